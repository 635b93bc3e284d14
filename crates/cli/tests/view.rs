//! `tsne view` and `embed --html` end to end: the page is written, holds no reference to
//! anything outside it, and its data decodes to the files given; bad inputs fail with one line
//! and leave no file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;

use common::{entries, scratch, tsne};

use tsne_viewer::{decode, Column, Decoded};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The page at `path`: it refers to nothing outside itself, and its decoded data.
fn read_page(path: &Path) -> (String, Decoded) {
    let html = std::fs::read_to_string(path).unwrap();
    for needle in ["http://", "https://", "src=", "url(", "@import"] {
        assert!(!html.contains(needle), "{}: the page holds `{needle}`", path.display());
    }
    assert!(html.contains("<canvas id=\"map\">"), "no map canvas");
    let decoded = decode(&html).unwrap();
    (html, decoded)
}

/// `n` points of a small spiral, as `f64` text that is not exactly an `f32`.
fn spiral(n: usize) -> Vec<[f64; 2]> {
    (0..n).map(|i| i as f64 * 0.37).map(|t| [t.cos() * t + 0.1, t.sin() * t - 1.0 / 3.0]).collect()
}

#[test]
fn view_writes_a_page_whose_data_is_the_files() {
    let dir = scratch("round-trip");
    let points = spiral(40);
    let mut csv = String::from("name,x,y\n");
    for (i, [x, y]) in points.iter().enumerate() {
        csv += &format!("cell{i},{x:?},{y:?}\n");
    }
    std::fs::write(dir.join("y.csv"), csv).unwrap();
    let labels: Vec<String> = (0..40).map(|i| ["b", "a", "10", "9"][i % 4].to_string()).collect();
    std::fs::write(dir.join("labels.txt"), format!("label\n{}\n", labels.join("\n"))).unwrap();
    let mut meta = String::from("score,kind,cluster\n");
    for i in 0..40 {
        let score = if i % 7 == 0 { "NA".to_string() } else { format!("{}", i as f64 / 4.0) };
        meta += &format!("{score},\"{}\",c{}\n", ["x, y", "</script><b>"][i % 2], i % 3);
    }
    std::fs::write(dir.join("meta.csv"), meta).unwrap();
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for (k, f) in [(50, 0.5), (0, 0.01)] {
        let text: String = points.iter().map(|[x, y]| format!("{:?},{:?}\n", x * f, y * f)).collect();
        std::fs::write(frames.join(format!("positions_{k:05}.csv")), text).unwrap();
    }
    std::fs::write(frames.join("frame_00000.png"), b"not read").unwrap();
    let html = dir.join("map.html");
    let o = tsne(&[
        "view",
        s(&dir.join("y.csv")),
        "--labels",
        s(&dir.join("labels.txt")),
        "--meta",
        s(&dir.join("meta.csv")),
        "--frames",
        s(&frames),
        "--title",
        "spiral </script> & <b>",
        "--html",
        s(&html),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (text, d) = read_page(&html);
    assert!(text.contains("<title>spiral &lt;/script&gt; &amp; &lt;b&gt;</title>"));
    assert_eq!(d.title, "spiral </script> & <b>");
    let expected: Vec<f32> = points.iter().flat_map(|&[x, y]| [x as f32, y as f32]).collect();
    assert_eq!(d.positions, expected);
    assert_eq!(d.ids.unwrap(), (0..40).map(|i| format!("cell{i}")).collect::<Vec<_>>());
    assert_eq!(d.labels.unwrap(), labels);
    let names: Vec<&str> = d.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["score", "kind", "cluster"]);
    let Column::Numeric(score) = &d.columns[0].1 else { panic!("score is not numeric: {:?}", d.columns[0]) };
    assert!(score[0].is_nan() && score[7].is_nan());
    assert_eq!((score[1], score[6]), (0.25, 1.5));
    let Column::Categorical(kind) = &d.columns[1].1 else { panic!("kind is not categorical") };
    assert_eq!((kind[0].as_str(), kind[1].as_str()), ("x, y", "</script><b>"));
    let iterations: Vec<usize> = d.frames.iter().map(|f| f.iteration).collect();
    assert_eq!(iterations, [0, 50]);
    assert_eq!(d.frames[1].positions[2], (points[1][0] * 0.5) as f32);
}

/// Runs `tsne` with `args`, expects one line of error holding `needle` and no new file in `dir`.
fn assert_refused(dir: &Path, args: &[&str], needle: &str) {
    let before = entries(dir);
    let o = tsne(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{args:?}: {stderr}");
    assert_eq!(entries(dir), before, "{args:?} left a file");
}

#[test]
fn bad_views_fail_in_one_line_and_write_nothing() {
    let dir = scratch("errors");
    let (three, two, meta) = (dir.join("three.csv"), dir.join("two.csv"), dir.join("meta.csv"));
    std::fs::write(&three, "1,2,3\n4,5,6\n7,8,9\n").unwrap();
    std::fs::write(&two, "1,2\n4,5\n7,8\n").unwrap();
    std::fs::write(&meta, "score\n1\n2\n").unwrap();
    let html = dir.join("map.html");
    assert_refused(&dir, &["view", s(&three), "--html", s(&html)], "has 3 columns to draw");
    assert_refused(
        &dir,
        &["view", s(&two), "--meta", s(&meta), "--html", s(&html)],
        "has 2 rows but the embedding has 3",
    );
    let missing = dir.join("no-such-folder").join("map.html");
    assert_refused(&dir, &["view", s(&two), "--html", s(&missing)], "does not exist");
    assert_refused(&dir, &["view", s(&two), "--html", s(&dir)], "it is a folder");
    assert_refused(
        &dir,
        &["view", s(&two), "--html", s(&dir.join("map.png"))],
        "expected one of .html, .htm",
    );
    assert_refused(&dir, &["view", s(&two), "--frames", s(&two), "--html", s(&html)], "not a folder");
    // The page path is checked before the embedding is read.
    let absent = dir.join("absent.csv");
    assert_refused(&dir, &["view", s(&absent), "--html", s(&dir.join("map.txt"))], "unknown output type");
    let nan = dir.join("nan.csv");
    std::fs::write(&nan, "1,2\n3,4\n5,NaN\n").unwrap();
    assert_refused(&dir, &["view", s(&nan), "--html", s(&html)], "non-finite");
}

#[test]
fn embed_html_holds_the_run_its_labels_and_its_snapshots() {
    let dir = scratch("embed");
    let snaps = dir.join("snaps");
    std::fs::create_dir_all(&snaps).unwrap();
    // A snapshot of an older, longer run in the same folder is not one of this run's frames.
    std::fs::write(snaps.join("positions_00090.csv"), "0,0\n").unwrap();
    let (html, out) = (dir.join("digits.html"), dir.join("y.csv"));
    let o = tsne(&[
        "demo",
        "--iterations",
        "60",
        "--exaggeration-iterations",
        "30",
        "--snapshot-every",
        "30",
        "--snapshot-dir",
        s(&snaps),
        "--out",
        s(&out),
        "--html",
        s(&html),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, d) = read_page(&html);
    assert_eq!(d.title, "digits");
    assert_eq!(d.positions.len(), 2 * 1797);
    let labels = d.labels.unwrap();
    assert_eq!((labels.len(), labels[0].as_str(), labels[1].as_str()), (1797, "0", "1"));
    let y: Vec<f32> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap() as f32).collect::<Vec<_>>())
        .collect();
    assert_eq!(d.positions, y, "the page draws the embedding written to --out");
    let iterations: Vec<usize> = d.frames.iter().map(|f| f.iteration).collect();
    assert_eq!(iterations, [0, 30, 60]);
    assert_eq!(d.frames[2].positions, y, "the last snapshot is the final map");
    // Refused before any work: another dimension, another extension.
    let page = s(&html);
    assert_refused(
        &dir,
        &["demo", "--dims", "3", "--html", &page.replace("digits", "d3")],
        "--html draws 2-D maps, not --dims 3",
    );
    assert_refused(&dir, &["demo", "--html", s(&dir.join("d.svg"))], "expected one of .html, .htm");
}
