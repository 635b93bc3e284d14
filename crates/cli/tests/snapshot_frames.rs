//! The PNG frames of `--snapshot-every N --plot`: one per snapshot, all of the plot's size, in
//! the eased views of `--animate` (the scale changes smoothly and never zooms in, the last
//! frame shows the final map as `--plot` does).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::path::{Path, PathBuf};

use common::{entries, scratch, tsne};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Writes `points.csv` ([`common::three_clusters`]) and `labels.txt` (the cluster of each
/// point) into `dir`.
fn three_clusters(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let (text, _) = common::three_clusters(n);
    let labels: String = (0..n).map(|i| format!("c{}\n", i % 3)).collect();
    let (points, labels_path) = (dir.join("points.csv"), dir.join("labels.txt"));
    std::fs::write(&points, text).unwrap();
    std::fs::write(&labels_path, labels).unwrap();
    (points, labels_path)
}

/// A decoded RGB picture.
struct Picture {
    size: (usize, usize),
    rgb: Vec<u8>,
}

impl Picture {
    fn read(path: &Path) -> Picture {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = png::Decoder::new(file).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        Picture { size: (info.width as usize, info.height as usize), rgb: buf }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.size.0 + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The data rectangle `[x0, y0, x1, y1]`: the frame's grey lines (the longest runs of the
    /// frame colour across and down).
    fn panel(&self) -> [usize; 4] {
        const FRAME: [u8; 3] = [150, 150, 150];
        let (w, h) = self.size;
        let long = |count: usize, of: usize| count * 2 > of;
        let rows: Vec<usize> =
            (0..h).filter(|&y| long((0..w).filter(|&x| self.at(x, y) == FRAME).count(), w)).collect();
        let cols: Vec<usize> =
            (0..w).filter(|&x| long((0..h).filter(|&y| self.at(x, y) == FRAME).count(), h)).collect();
        assert!(rows.len() >= 2 && cols.len() >= 2, "no frame found");
        [cols[0], rows[0], *cols.last().unwrap(), *rows.last().unwrap()]
    }

    /// The bounding box `[x0, y0, x1, y1]` of the tinted (point) pixels inside `panel`.
    fn points(&self, panel: [usize; 4]) -> [usize; 4] {
        let mut b = [usize::MAX, usize::MAX, 0, 0];
        for y in panel[1] + 1..panel[3] {
            for x in panel[0] + 1..panel[2] {
                let p = self.at(x, y);
                if p.iter().max().unwrap() - p.iter().min().unwrap() > 30 {
                    b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
                }
            }
        }
        assert!(b[0] <= b[2], "no points drawn");
        b
    }

    /// Whether the pure colour `c` is somewhere right of `x` (the legend).
    fn has_right_of(&self, x: usize, c: [u8; 3]) -> bool {
        (0..self.size.1).any(|y| (x..self.size.0).any(|px| self.at(px, y) == c))
    }
}

/// The width and height of the positions in a snapshot file.
fn data_extent(csv: &Path) -> [f64; 2] {
    let text = std::fs::read_to_string(csv).unwrap();
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for line in text.lines() {
        let v: Vec<f64> = line.split(',').map(|t| t.parse().unwrap()).collect();
        for c in 0..2 {
            lo[c] = lo[c].min(v[c]);
            hi[c] = hi[c].max(v[c]);
        }
    }
    [hi[0] - lo[0], hi[1] - lo[1]]
}

/// How much wider than the span of the markers' centres their pixel box is: `--plot` fits
/// the final map so that its longer side spans the panel less the 4% margins.
fn marker_width(points: [usize; 4], panel: [usize; 4]) -> f64 {
    let fitted = |lo: usize, hi: usize| (hi - lo) as f64 / 1.08;
    let across = (points[2] - points[0]) as f64 - fitted(panel[0], panel[2]);
    let up = (points[3] - points[1]) as f64 - fitted(panel[1], panel[3]);
    across.max(up)
}

/// Pixels per data unit of a frame: the span of the markers' centres over the points' data
/// span, along the axis where they reach further on the picture (the smaller error).
fn scale(points: [usize; 4], extent: [f64; 2], marker: f64) -> f64 {
    let (across, up) = ((points[2] - points[0]) as f64, (points[3] - points[1]) as f64);
    if across >= up {
        (across - marker) / extent[0]
    } else {
        (up - marker) / extent[1]
    }
}

#[test]
fn frames_share_the_plot_size_and_ease_their_scale_to_the_final_map() {
    let dir = scratch("eased");
    let (points, labels) = three_clusters(&dir, 150);
    let (snaps, map) = (dir.join("snaps"), dir.join("map.png"));
    let o = tsne(&[
        "embed",
        &s(&points),
        "--labels",
        &s(&labels),
        "--perplexity",
        "10",
        "--iterations",
        "400",
        "--snapshot-every",
        "10",
        "--snapshot-dir",
        &s(&snaps),
        "--plot",
        &s(&map),
        "--plot-size",
        "600x500",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let iterations: Vec<usize> = (0..=400).step_by(10).collect();
    let mut expected: Vec<String> = iterations.iter().map(|i| format!("frame_{i:05}.png")).collect();
    expected.extend(iterations.iter().map(|i| format!("positions_{i:05}.csv")));
    assert_eq!(entries(&snaps), expected, "one frame per snapshot, nothing half-written");

    let final_map = Picture::read(&map);
    assert_eq!(final_map.size, (600, 500));
    let panel = final_map.panel();
    let marker = marker_width(final_map.points(panel), panel);
    assert!((1.0..20.0).contains(&marker), "markers {marker} pixels wide");
    let classes = [[31, 119, 180], [255, 127, 14], [44, 160, 44]];
    let mut scales = Vec::new();
    let mut last = None;
    for i in &iterations {
        let frame = Picture::read(&snaps.join(format!("frame_{i:05}.png")));
        assert_eq!(frame.size, final_map.size, "iteration {i}: the plot's size");
        assert_eq!(frame.panel(), panel, "iteration {i}: the plot's layout");
        for c in classes {
            assert!(frame.has_right_of(panel[2] + 1, c), "iteration {i}: legend colour {c:?}");
        }
        let box_ = frame.points(panel);
        scales.push(scale(box_, data_extent(&snaps.join(format!("positions_{i:05}.csv"))), marker));
        last = Some((frame, box_));
    }
    // The start (about 1e-4 across) is drawn tight, as in the GIF.
    let start = Picture::read(&snaps.join("frame_00000.png")).points(panel);
    let fill = ((start[2] - start[0]) as f64 / (panel[2] - panel[0]) as f64)
        .max((start[3] - start[1]) as f64 / (panel[3] - panel[1]) as f64);
    assert!(fill > 0.85, "the start fills {fill:.2} of the panel");

    // From the first snapshot on, a frame fitted alone would change scale over 10x ...
    let (first, end) =
        (data_extent(&snaps.join("positions_00010.csv")), data_extent(&snaps.join("positions_00400.csv")));
    let growth = end[0].max(end[1]) / first[0].max(first[1]);
    assert!(growth > 10.0, "the map grows {growth:.1}x: too little to test easing");
    // ... while the eased frames never zoom in (beyond a pixel of measurement) and zoom out
    // by less than 1.5x from one frame to the next (fitted alone: 0.47x, then 6.5x). The
    // step from the start is left out: no view that keeps later maps large can ease it.
    for k in 2..scales.len() {
        let step = scales[k - 1] / scales[k];
        assert!(
            (0.95..1.5).contains(&step),
            "iterations {} -> {}: the scale shrinks {step:.3}x (pixels per unit {:?})",
            iterations[k - 1],
            iterations[k],
            &scales
        );
    }

    // The last frame shows the final map in its view: same points box, same pixels below the
    // title line (the caption aside).
    let (frame, box_) = last.unwrap();
    let final_box = final_map.points(panel);
    assert!(box_.iter().zip(&final_box).all(|(a, b)| a.abs_diff(*b) <= 1), "{box_:?} vs {final_box:?}");
    let below = panel[1] * final_map.size.0 * 3;
    let same = frame.rgb[below..].iter().zip(&final_map.rgb[below..]).filter(|(a, b)| a == b).count();
    let share = same as f64 / (frame.rgb.len() - below) as f64;
    assert!(share > 0.995, "the last frame differs from the final map in {:.2}%", 100.0 * (1.0 - share));
}

#[test]
fn three_d_frames_have_the_plot_size_and_end_on_the_final_panels() {
    let dir = scratch("three-d");
    let (points, labels) = three_clusters(&dir, 90);
    let (snaps, map) = (dir.join("snaps"), dir.join("map.png"));
    let o = tsne(&[
        "embed",
        &s(&points),
        "--labels",
        &s(&labels),
        "--perplexity",
        "10",
        "--dims",
        "3",
        "--init",
        "random",
        "--iterations",
        "60",
        "--snapshot-every",
        "30",
        "--snapshot-dir",
        &s(&snaps),
        "--plot",
        &s(&map),
        "--plot-size",
        "900x400",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let final_map = Picture::read(&map);
    for i in [0, 30, 60] {
        let frame = Picture::read(&snaps.join(format!("frame_{i:05}.png")));
        assert_eq!(frame.size, (900, 400), "iteration {i}");
    }
    let frame = Picture::read(&snaps.join("frame_00060.png"));
    let below = final_map.size.0 * 3 * 60;
    let same = frame.rgb[below..].iter().zip(&final_map.rgb[below..]).filter(|(a, b)| a == b).count();
    let share = same as f64 / (frame.rgb.len() - below) as f64;
    assert!(share > 0.995, "the last frame differs from the final map in {:.2}%", 100.0 * (1.0 - share));
}

#[test]
fn a_plot_too_small_for_frames_fails_in_one_line_without_pictures() {
    let dir = scratch("small");
    let (points, _) = three_clusters(&dir, 60);
    let snaps = dir.join("snaps");
    let o = tsne(&[
        "embed",
        &s(&points),
        "--perplexity",
        "10",
        "--iterations",
        "50",
        "--snapshot-every",
        "10",
        "--snapshot-dir",
        &s(&snaps),
        "--plot",
        &s(&dir.join("map.png")),
        "--plot-size",
        "100x100",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("too small"), "{err}");
    assert_eq!(entries(&dir), ["labels.txt", "points.csv", "snaps"]);
    assert!(entries(&snaps).iter().all(|f| f.starts_with("positions_")), "{:?}", entries(&snaps));
}
