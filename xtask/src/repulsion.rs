//! `cargo xtask repulsion`: one FFT repulsion evaluation, ours against openTSNE's, on the same
//! 2-D embedding file, at each size.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tsne::backends::core::Repulsion;
use tsne::backends::repulsion::FftInterpolation;
use tsne::{FftParams, Matrix, StudentT};

use crate::{read_matrix, root, write_csv};

/// Median of `repeats` evaluations after one warm-up (which builds plans and buffers), in ms,
/// and the Z of the last one.
fn time_ours(y: &Matrix, params: FftParams, repeats: usize) -> Result<(f64, f64)> {
    let mut fft = FftInterpolation::new(params)?;
    let mut forces = vec![0.0; y.rows() * 2];
    fft.repulsion(y, StudentT::CAUCHY, &mut forces)?;
    let mut times = Vec::with_capacity(repeats);
    let mut z = 0.0;
    for _ in 0..repeats {
        let t = Instant::now();
        z = fft.repulsion(y, StudentT::CAUCHY, &mut forces)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[repeats / 2], z))
}

pub fn run(sizes: &[usize], repeats: usize, threads: usize, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let have_peer = Command::new("python3")
        .args(["-c", "import openTSNE"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let script = root().join("xtask/peers/opentsne_repulsion.py");
    let mut rows = Vec::new();
    for &n in sizes {
        let file = out.join(format!("embedding_2d_{n}.csv"));
        write_csv(&file, &tsne_benches::embedding_2d(n, 7))?;
        // Both sides read the same rounded values.
        let y = read_matrix(&file)?;
        let (ours_ms, ours_z) = pool.install(|| time_ours(&y, FftParams::default(), repeats))?;
        let (grid_ms, grid_z) = pool.install(|| time_ours(&y, FftParams::OPENTSNE, repeats))?;
        let peer = if have_peer {
            let o = Command::new("python3")
                .arg(&script)
                .arg(&file)
                .arg(repeats.to_string())
                .env("OMP_NUM_THREADS", threads.to_string())
                .output()
                .context("running the openTSNE repulsion script")?;
            if !o.status.success() {
                bail!("openTSNE repulsion script failed: {}", String::from_utf8_lossy(&o.stderr));
            }
            serde_json::from_slice::<Value>(&o.stdout)?
        } else {
            json!({ "skipped": "python3 cannot import openTSNE" })
        };
        let row = json!({
            "n": n, "threads": threads, "repeats": repeats,
            "ours_default_ms": ours_ms, "ours_default_z": ours_z,
            "ours_opentsne_grid_ms": grid_ms, "ours_opentsne_grid_z": grid_z,
            "opentsne": peer,
        });
        eprintln!("{row}");
        rows.push(row);
    }
    let mut md = String::from(
        "| n | ours, default grid ms | ours, openTSNE grid ms | openTSNE ms | ratio ours (same grid) / openTSNE | ns per point (ours, same grid) | Z rel. diff (same grid) |\n|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        let n = r["n"].as_f64().unwrap_or(1.0);
        let grid = r["ours_opentsne_grid_ms"].as_f64().unwrap_or(f64::NAN);
        let peer = r["opentsne"]["median_ms"].as_f64();
        let z = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        md += &format!(
            "| {} | {:.1} | {:.1} | {} | {} | {:.0} | {} |\n",
            r["n"],
            z("ours_default_ms"),
            grid,
            peer.map_or("skipped".into(), |p| format!("{p:.1}")),
            peer.map_or("-".into(), |p| format!("{:.2}", grid / p)),
            1e6 * grid / n,
            r["opentsne"]["z"]
                .as_f64()
                .map_or("-".into(), |pz| format!("{:.1e}", (z("ours_opentsne_grid_z") - pz).abs() / pz)),
        );
    }
    let report = json!({ "command": std::env::args().collect::<Vec<_>>().join(" "), "machine": crate::machine(), "results": rows });
    std::fs::write(out.join("repulsion.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(out.join("repulsion.md"), &md)?;
    println!("{md}");
    Ok(())
}
