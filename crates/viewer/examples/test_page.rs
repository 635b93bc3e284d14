//! Writes the viewer's own test page, `crates/viewer/assets/test.html` (or the path given):
//! 600 synthetic points in six labelled clusters, ids, a numeric column (`score`, with missing
//! values) and a categorical one (`batch`), and four frames of the clusters growing apart.
//!
//! ```text
//! cargo run -p tsne-viewer --example test_page [-- OUT.html]
//! ```
//!
//! The test `the_test_page_is_current` fails when the committed page differs from this
//! program's.

use std::path::PathBuf;

use tsne_viewer::{Column, Frame, Map};

fn main() -> Result<(), tsne_viewer::ViewerError> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join("test.html"));
    test_map()?.write(&out)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// The test page's map (the same for every run: the numbers come from a fixed sequence).
pub fn test_map() -> Result<Map, tsne_viewer::ViewerError> {
    const N: usize = 600;
    const NAMES: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    let mut s = 12345u64;
    let mut u = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut positions, mut labels, mut score, mut batch) = (vec![], vec![], vec![], vec![]);
    for i in 0..N {
        // Unequal classes: class c holds about (c + 1) / 21 of the points.
        let c = (0..6).find(|&c| (i * 21) / N < (c + 1) * (c + 2) / 2).unwrap_or(5);
        let angle = c as f64 / 6.0 * std::f64::consts::TAU;
        let (r, t) = (u().sqrt() * 5.0, u() * std::f64::consts::TAU);
        positions.push(25.0 * angle.cos() + r * t.cos());
        positions.push(25.0 * angle.sin() + r * t.sin());
        labels.push(NAMES[c].to_string());
        score.push(if i % 37 == 5 { f64::NAN } else { (r * 10.0).round() / 10.0 });
        batch.push(["batch A", "batch B", "batch C"][i % 3].to_string());
    }
    let frames = (0..4)
        .map(|f| Frame {
            iteration: 250 * f,
            positions: positions.iter().map(|&v| (v * (0.05 + 0.3 * f as f64)) as f32).collect(),
        })
        .collect();
    Map::new(&positions, 2)?
        .with_title("tsne-viewer test page")
        .with_labels(labels)?
        .with_ids((0..N).map(|i| format!("pt-{i:03}")).collect())?
        .with_column("score", Column::Numeric(score))?
        .with_column("batch", Column::Categorical(batch))?
        .with_frames(frames)
}
