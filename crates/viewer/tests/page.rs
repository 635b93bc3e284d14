//! The page as written: self-contained, its data decoding to what the map was given, its text
//! escaped, and its size near 10 bytes a point.

use tsne_viewer::{decode, Column, Frame, Map};

/// A deterministic pseudo-random sequence in [0, 1) (a 64-bit LCG's high bits).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` points in `k` round clusters, row-major, and each point's cluster.
fn clusters(n: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
    let mut u = uniform(seed);
    let mut positions = Vec::with_capacity(2 * n);
    let mut class = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        let angle = c as f64 / k as f64 * std::f64::consts::TAU;
        let (r, t) = (u().sqrt() * 4.0, u() * std::f64::consts::TAU);
        positions.push(30.0 * angle.cos() + r * t.cos());
        positions.push(30.0 * angle.sin() + r * t.sin());
        class.push(c);
    }
    (positions, class)
}

#[test]
fn the_data_round_trips() {
    let (positions, class) = clusters(500, 7, 1);
    let labels: Vec<String> = class.iter().map(|c| format!("class {c}")).collect();
    let ids: Vec<String> = (0..500).map(|i| format!("cell-{i:04}")).collect();
    let score: Vec<f64> = (0..500).map(|i| if i % 50 == 3 { f64::NAN } else { i as f64 * 0.25 }).collect();
    let kind: Vec<String> = (0..500).map(|i| ["a", "b", "</script>"][i % 3].to_string()).collect();
    let frames: Vec<Frame> = (0..3)
        .map(|f| Frame {
            iteration: 50 * f,
            positions: positions.iter().map(|&v| (v * f as f64 / 3.0) as f32).collect(),
        })
        .collect();
    let map = Map::new(&positions, 2)
        .unwrap()
        .with_title("a <b>title</b> & </script>")
        .with_labels(labels.clone())
        .unwrap()
        .with_ids(ids.clone())
        .unwrap()
        .with_column("score", Column::Numeric(score.clone()))
        .unwrap()
        .with_column("kind", Column::Categorical(kind.clone()))
        .unwrap()
        .with_frames(frames.clone())
        .unwrap();
    let html = map.html();
    let d = decode(&html).unwrap();
    assert_eq!(d.title, "a <b>title</b> & </script>");
    let narrow: Vec<f32> = positions.iter().map(|&v| v as f32).collect();
    assert_eq!(d.positions, narrow);
    assert_eq!(d.labels.as_ref(), Some(&labels));
    assert_eq!(d.ids.as_ref(), Some(&ids));
    assert_eq!(d.frames, frames);
    assert_eq!(d.columns.len(), 2);
    let (name, Column::Numeric(got)) = &d.columns[0] else { panic!("{:?}", d.columns[0]) };
    assert_eq!(name, "score");
    for (g, s) in got.iter().zip(&score) {
        assert!(g.is_nan() && s.is_nan() || *g == f64::from(*s as f32), "{g} {s}");
    }
    assert_eq!(d.columns[1], ("kind".to_string(), Column::Categorical(kind)));
    // The markup around the data holds the title only escaped.
    assert_eq!(html.matches("</script>").count(), 2, "the data and the script elements only");
    assert!(html.contains("<title>a &lt;b&gt;title&lt;/b&gt; &amp; &lt;/script&gt;</title>"));
}

#[test]
fn the_page_requests_nothing() {
    let (positions, _) = clusters(100, 3, 2);
    let html = Map::new(&positions, 2).unwrap().html();
    for needle in ["http://", "https://", "src=", "@import", "url(", "fetch(", "XMLHttpRequest"] {
        assert!(!html.contains(needle), "the page holds `{needle}`");
    }
    assert!(html.contains("default-src 'none'"), "the policy forbids requests");
    assert!(decode(&html).unwrap().labels.is_none());
}

#[test]
fn many_classes_take_wider_codes() {
    let (positions, _) = clusters(70_000, 10, 3);
    let ids: Vec<String> = (0..70_000).map(|i| format!("r{i}")).collect();
    let map = Map::new(&positions, 2)
        .unwrap()
        .with_labels(ids.clone())
        .unwrap()
        .with_column("id again", Column::Categorical(ids.clone()))
        .unwrap();
    let d = decode(&map.html()).unwrap();
    assert_eq!(d.labels, Some(ids));
}

/// The data of a map of 2-D positions and a label takes about 10 bytes a point in the page.
#[test]
fn the_page_takes_about_ten_bytes_a_point() {
    let n = 200_000;
    let (positions, class) = clusters(n, 10, 4);
    let labels: Vec<String> = class.iter().map(|c| c.to_string()).collect();
    let empty = Map::new(&[0.0, 0.0], 2).unwrap().html().len();
    let html = Map::new(&positions, 2).unwrap().with_labels(labels).unwrap().html();
    let per_point = (html.len() - empty) as f64 / n as f64;
    assert!((6.0..=11.0).contains(&per_point), "{per_point} bytes a point");
}

#[test]
fn corrupt_pages_are_errors() {
    let html = Map::new(&[0.0, 0.0, 1.0, 1.0], 2).unwrap().html();
    assert!(decode("<html></html>").is_err());
    let at = html.find("id=\"tsne-data\">").unwrap() + 20;
    let mut broken = html.clone();
    broken.replace_range(at..at + 4, "AAAA");
    assert!(decode(&broken).is_err());
}
