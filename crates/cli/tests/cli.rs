//! The `tsne` binary end to end: the demo's quality and JSON, and one-line errors without
//! leftover files for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;
use std::process::Command;

use common::{entries, scratch, three_clusters, tsne};

/// Runs `tsne embed` on `content` saved as `name`, expects failure with one line containing
/// `needle`, and checks no output file was left behind.
fn assert_rejected(test: &str, name: &str, content: &[u8], extra: &[&str], needle: &str) {
    let dir = scratch(test);
    let input = dir.join(name);
    std::fs::write(&input, content).unwrap();
    let out = dir.join("out.csv");
    let plot = dir.join("plot.png");
    let mut args = vec![
        "embed",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = tsne(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{test}: succeeded unexpectedly");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{test}: not one line: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{test}: {stderr}");
    assert_eq!(entries(&dir), vec![name.to_string()], "{test}: files left behind");
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    assert_rejected("empty", "empty.csv", b"", &[], "empty");
    assert_rejected("ragged", "ragged.csv", b"1,2,3\n4,5,6\n7,8\n", &[], "row has 2 values, expected 3");
    assert_rejected("nan", "nan.csv", b"1,2\n3,NaN\n5,6\n", &[], "non-finite value NaN");
    let small: String = (0..20).map(|i| format!("{},{}\n", (i * 7) % 20, (i * 3) % 5)).collect();
    assert_rejected(
        "perplexity",
        "small.csv",
        small.as_bytes(),
        &["--perplexity", "25"],
        "perplexity 25 is too large",
    );
    assert_rejected("filetype", "data.xlsx", b"1,2\n", &[], "unknown file type");
    assert_rejected(
        "identical",
        "same.csv",
        "1,1\n".repeat(30).as_bytes(),
        &["--perplexity", "5"],
        "identical",
    );
    assert_rejected(
        "badlr",
        "ok.csv",
        small.as_bytes(),
        &["--perplexity", "3", "--learning-rate=-1"],
        "invalid parameter --learning-rate",
    );
    // A backend's settings without that backend are refused, not silently ignored.
    assert_rejected(
        "theta",
        "ok.csv",
        small.as_bytes(),
        &["--perplexity", "3", "--theta", "0.7"],
        "--repulsion bh",
    );
    assert_rejected(
        "grid",
        "ok.csv",
        small.as_bytes(),
        &["--perplexity", "3", "--repulsion", "bh", "--interp-points", "3"],
        "--repulsion fft",
    );
    let dir = scratch("missing");
    let o = tsne(&["embed", dir.join("nope.csv").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot open"));
}

#[test]
fn embed_writes_csv_npy_and_json() {
    let dir = scratch("embed");
    let input = dir.join("points.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..60 {
        let c = (i % 3) as f64 * 10.0;
        text += &format!("{},{},{}\n", c + (i as f64 * 0.37).sin(), c + (i as f64 * 0.11).cos(), c);
    }
    std::fs::write(&input, text).unwrap();
    let csv = dir.join("y.csv");
    let npy = dir.join("y.npy");
    for out in [&csv, &npy] {
        let o = tsne(&[
            "embed",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--perplexity",
            "5",
            "--iterations",
            "300",
            "--json",
            "--seed",
            "3",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(json["n"], 60);
        assert_eq!(json["dims_in"], 3);
    }
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 60);
    // The .npy body holds the same values as the CSV (round-trip formatting).
    let bytes = std::fs::read(&npy).unwrap();
    let body = &bytes[bytes.len() - 60 * 2 * 8..];
    let first = f64::from_le_bytes(body[..8].try_into().unwrap());
    assert_eq!(first, rows[0][0]);
    assert_eq!(entries(&dir), vec!["points.csv", "y.csv", "y.npy"]);
}

#[test]
fn family_methods_run_on_the_dense_path_and_refuse_approximations() {
    let dir = scratch("family");
    let input = dir.join("points.csv");
    let text: String = (0..120)
        .map(|i| {
            let c = (i % 3) as f64 * 6.0;
            format!(
                "{},{},{}\n",
                c + (i as f64 * 0.37).sin(),
                c + (i as f64 * 0.11).cos(),
                (i as f64 * 0.7).sin()
            )
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    for method in ["asne", "mds", "jse"] {
        let o = tsne(&[
            "embed",
            input.to_str().unwrap(),
            "--method",
            method,
            "--perplexity",
            "10",
            "--iterations",
            "200",
            "--json",
        ]);
        assert!(o.status.success(), "{method}: {}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(json["repulsion"], "exact-dense");
        assert!(json["kl_divergence"].as_f64().unwrap().is_finite());
    }
    let o = tsne(&["embed", input.to_str().unwrap(), "--method", "ssne", "--repulsion", "bh"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("SSNE (the exact dense SNE-family path) does not support the scalable"));
}

#[test]
fn demo_json_reports_a_good_embedding() {
    let dir = scratch("demo");
    let plot = dir.join("digits.png");
    let o = tsne(&["demo", "--json", "--plot", plot.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.trim_end().lines().count(), 1, "exactly one JSON object: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "n",
        "dims_in",
        "dims_out",
        "seed",
        "threads",
        "perplexity",
        "iterations",
        "kl_divergence",
        "neighbors",
        "repulsion",
    ] {
        assert!(!json[key].is_null(), "missing {key}");
    }
    for key in ["neighbors", "affinities", "optimize", "total"] {
        assert!(json["timings_s"][key].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(json["n"], 1797);
    let acc = json["knn_accuracy_10"].as_f64().unwrap();
    assert!(acc >= 0.95, "10-NN accuracy {acc}");
    let png = std::fs::read(&plot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// Points on three noisy clusters in 2-D, as CSV text, and the points themselves.

#[test]
fn precomputed_neighbours_and_affinities_from_files() {
    let dir = scratch("precomputed");
    let n = 60;
    let (text, pts) = three_clusters(n);
    let points = dir.join("points.csv");
    std::fs::write(&points, text).unwrap();
    // k = 15 neighbours (perplexity 5), preceded by the self-match column an ANN library writes.
    let k = 15;
    let (mut idx, mut dist) = (String::new(), String::new());
    let mut sym = vec![vec![0.0f64; n]; n];
    for i in 0..n {
        let d = |j: usize| (pts[i][0] - pts[j][0]).hypot(pts[i][1] - pts[j][1]);
        let mut order: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        order.sort_by(|&a, &b| d(a).total_cmp(&d(b)).then(a.cmp(&b)));
        let row = &order[..k];
        idx += &format!("{i},{}\n", row.iter().map(|j| j.to_string()).collect::<Vec<_>>().join(","));
        dist += &format!("0,{}\n", row.iter().map(|&j| d(j).to_string()).collect::<Vec<_>>().join(","));
        for &j in row {
            sym[i][j] += 1.0;
            sym[j][i] += 1.0;
        }
    }
    let (ki, kd) = (dir.join("idx.csv"), dir.join("dist.csv"));
    std::fs::write(&ki, idx).unwrap();
    std::fs::write(&kd, dist).unwrap();
    let run = |source: &[&str], out: &Path| {
        let mut args = vec!["embed"];
        args.extend_from_slice(source);
        args.extend_from_slice(&["--perplexity", "5", "--iterations", "200", "--json", "--out"]);
        args.push(out.to_str().unwrap());
        let o = tsne(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (y_points, y_knn) = (dir.join("points_y.csv"), dir.join("knn_y.csv"));
    let from_points = run(&[points.to_str().unwrap(), "--init", "spectral"], &y_points);
    let json = run(&["--knn-indices", ki.to_str().unwrap(), "--knn-distances", kd.to_str().unwrap()], &y_knn);
    assert_eq!((json["n"].as_u64(), json["k"].as_u64()), (Some(60), Some(15)));
    assert_eq!((json["neighbors"].as_str(), json["init"].as_str()), (Some("precomputed"), Some("spectral")));
    // The file's distances differ from ours in the last bit (hypot against a sum of squares),
    // so the two fits agree in quality, not bit for bit.
    let (a, b) = (from_points["kl_divergence"].as_f64().unwrap(), json["kl_divergence"].as_f64().unwrap());
    assert!((a - b).abs() < 0.05 * a, "KL {a} from points, {b} from the graph files");

    // Uniform kNN affinities as a lower-triangle symmetric Matrix Market file.
    let mut mtx = String::from("%%MatrixMarket matrix coordinate real symmetric\n% kNN graph\n");
    let lower: Vec<(usize, usize)> =
        (0..n).flat_map(|i| (0..i).map(move |j| (i, j))).filter(|&(i, j)| sym[i][j] > 0.0).collect();
    mtx += &format!("{n} {n} {}\n", lower.len());
    for &(i, j) in &lower {
        mtx += &format!("{} {} {}\n", i + 1, j + 1, sym[i][j]);
    }
    let p = dir.join("p.mtx");
    std::fs::write(&p, &mtx).unwrap();
    let json = run(&["--affinities", p.to_str().unwrap()], &dir.join("p_y.csv"));
    assert_eq!((json["n"].as_u64(), json["affinity"].as_str()), (Some(60), Some("precomputed")));

    // Broken files: one line, non-zero exit, no output.
    let asym = mtx.replace("symmetric", "general");
    let bad_index = std::fs::read_to_string(&ki).unwrap().replacen("0,", "60,", 1);
    for (name, content, flag, needle) in [
        ("asym.mtx", asym.as_str(), "--affinities", "not symmetric"),
        ("bad_idx.csv", bad_index.as_str(), "--knn-indices", "not a point index"),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, content).unwrap();
        let out = dir.join("never.csv");
        let mut args = vec!["embed", flag, file.to_str().unwrap(), "--out", out.to_str().unwrap()];
        if flag == "--knn-indices" {
            args.extend_from_slice(&["--knn-distances", kd.to_str().unwrap()]);
        }
        let o = tsne(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.trim_end().lines().count() == 1, "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
        assert!(!out.exists());
    }
}

#[test]
fn transform_places_new_points_near_their_cluster() {
    let dir = scratch("transform");
    let (text, _) = three_clusters(90);
    let points = dir.join("points.csv");
    std::fs::write(&points, text).unwrap();
    let y = dir.join("y.csv");
    let o = tsne(&["embed", points.to_str().unwrap(), "--perplexity", "10", "--out", y.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // New points at the three cluster centres.
    let new = dir.join("new.csv");
    std::fs::write(&new, "0.1,0.9\n10.2,10.7\n20.0,20.5\n").unwrap();
    let placed = dir.join("placed.csv");
    let args = |out: &Path| {
        let o = tsne(&[
            "transform",
            new.to_str().unwrap(),
            "--reference",
            points.to_str().unwrap(),
            "--embedding",
            y.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (ok, err) = args(&placed);
    assert!(ok, "{err}");
    let read = |p: &Path| -> Vec<Vec<f64>> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let (emb, placed_y) = (read(&y), read(&placed));
    assert_eq!(placed_y.len(), 3);
    // Each new point is nearest (in the embedding) to a member of its own cluster.
    for (c, p) in placed_y.iter().enumerate() {
        let nearest = (0..emb.len())
            .min_by(|&a, &b| {
                let d = |i: usize| (emb[i][0] - p[0]).hypot(emb[i][1] - p[1]);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        assert_eq!(nearest % 3, c, "new point {c} landed next to point {nearest}");
    }
    // A reference/embedding row mismatch is one line and leaves no file.
    std::fs::write(&y, "0,0\n1,1\n").unwrap();
    let bad = dir.join("bad.csv");
    let (ok, err) = args(&bad);
    assert!(!ok && err.trim().lines().count() == 1, "{err}");
    assert!(!bad.exists());
}

fn read_csv(p: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn saved_models_transform_and_continue_through_files() {
    let dir = scratch("model");
    let (text, _) = three_clusters(120);
    let points = dir.join("points.csv");
    std::fs::write(&points, text).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (model, y) = (dir.join("m.tsne"), dir.join("y.csv"));
    let run = |args: &[String]| {
        let o = tsne(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let embed = |iterations: &str, out: &Path, save: &Path| {
        run(&[
            "embed".into(),
            s(&points),
            "--perplexity".into(),
            "10".into(),
            "--iterations".into(),
            iterations.into(),
            "--out".into(),
            s(out),
            "--save-model".into(),
            s(save),
        ])
    };
    let (ok, _, err) = embed("500", &y, &model);
    assert!(ok, "{err}");

    // transform --model equals transform with the same reference and embedding files.
    let new = dir.join("new.csv");
    std::fs::write(&new, "0.1,0.9\n10.2,10.7\n20.0,20.5\n").unwrap();
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    let (ok, _, err) =
        run(&["transform".into(), s(&new), "--model".into(), s(&model), "--out".into(), s(&a)]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "transform".into(),
        s(&new),
        "--reference".into(),
        s(&points),
        "--embedding".into(),
        s(&y),
        "--out".into(),
        s(&b),
    ]);
    assert!(ok, "{err}");
    assert_eq!(read_csv(&a), read_csv(&b));
    assert_eq!(read_csv(&a).len(), 3);

    // 250 iterations, then 250 more through `tsne optimize`, equal 500 at once.
    let (m250, y250, y500) = (dir.join("m250.tsne"), dir.join("y250.csv"), dir.join("y500.csv"));
    let (ok, _, err) = embed("250", &y250, &m250);
    assert!(ok, "{err}");
    // The fit's learning rate: max(120 / 12, 50).
    let (ok, out, err) = run(&[
        "optimize".into(),
        "--model".into(),
        s(&m250),
        "--iterations".into(),
        "250".into(),
        "--learning-rate".into(),
        "50".into(),
        "--out".into(),
        s(&y500),
        "--save-model".into(),
        s(&m250),
        "--json".into(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("\"iterations_total\":500"), "{out}");
    assert_eq!(read_csv(&y500), read_csv(&y));

    // Damaged, truncated, foreign and wrong-version models: one line each, no output.
    let bytes = std::fs::read(&model).unwrap();
    let mut flipped = bytes.clone();
    flipped[100] ^= 1;
    let mut version = bytes.clone();
    version[8] = 7;
    for (name, content, needle) in [
        ("flipped.tsne", flipped, "damaged"),
        ("short.tsne", bytes[..bytes.len() - 9].to_vec(), "damaged"),
        ("csv.tsne", b"1,2\n3,4\n".to_vec(), "not a t-SNE model"),
        ("v7.tsne", version, "version 7"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let out = dir.join("never.csv");
        let (ok, _, err) =
            run(&["transform".into(), s(&new), "--model".into(), s(&path), "--out".into(), s(&out)]);
        assert!(!ok && err.trim_end().lines().count() == 1 && err.contains(needle), "{name}: {err}");
        assert!(!out.exists());
    }
}

#[test]
fn pinned_points_keep_their_given_positions() {
    let dir = scratch("pin");
    let (text, pts) = three_clusters(90);
    let points = dir.join("points.csv");
    std::fs::write(&points, text).unwrap();
    let init = dir.join("init.csv");
    let start: String =
        pts.iter().enumerate().map(|(i, p)| format!("{},{}\n", p[0] + 0.001 * i as f64, p[1])).collect();
    std::fs::write(&init, &start).unwrap();
    let pin = dir.join("pin.txt");
    std::fs::write(&pin, "0\n5\n17\n").unwrap();
    let y = dir.join("y.csv");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = tsne(&[
        "embed",
        &s(&points),
        "--perplexity",
        "10",
        "--iterations",
        "300",
        "--init",
        &s(&init),
        "--pin",
        &s(&pin),
        "--out",
        &s(&y),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (y, given) = (read_csv(&y), read_csv(&init));
    for i in [0, 5, 17] {
        assert_eq!(y[i], given[i], "pinned point {i} moved");
    }
    assert_ne!(y[1], given[1], "a free point did not move");
    // --pin without a file start, and an index out of range, are one-line errors.
    let o = tsne(&["embed", &s(&points), "--pin", &s(&pin)]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--init FILE"));
    std::fs::write(&pin, "90\n").unwrap();
    let o = tsne(&["embed", &s(&points), "--perplexity", "10", "--init", &s(&init), "--pin", &s(&pin)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.trim_end().lines().count() == 1 && err.contains("pin"), "{err}");
}

#[test]
fn snapshots_are_numbered_positions_in_input_order() {
    let dir = scratch("snapshots");
    let (text, _) = three_clusters(60);
    let points = dir.join("points.csv");
    std::fs::write(&points, text).unwrap();
    let (snaps, y, plot) = (dir.join("snaps"), dir.join("y.csv"), dir.join("y.png"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = tsne(&[
        "embed",
        &s(&points),
        "--perplexity",
        "10",
        "--iterations",
        "100",
        "--snapshot-every",
        "50",
        "--snapshot-dir",
        &s(&snaps),
        "--plot",
        &s(&plot),
        "--out",
        &s(&y),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        entries(&snaps),
        [
            "frame_00000.png",
            "frame_00050.png",
            "frame_00100.png",
            "positions_00000.csv",
            "positions_00050.csv",
            "positions_00100.csv"
        ]
    );
    // Iteration 0 is the start: the positions of a run of no iterations.
    let start = dir.join("start.csv");
    let o = tsne(&["embed", &s(&points), "--perplexity", "10", "--iterations", "0", "--out", &s(&start)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_csv(&snaps.join("positions_00000.csv")), read_csv(&start));
    // The last snapshot is the final embedding (in input order).
    assert_eq!(read_csv(&snaps.join("positions_00100.csv")), read_csv(&y));
}

#[test]
fn sigint_and_sigterm_stop_a_run_at_once_without_files() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = scratch(&format!("signal{code}"));
        let (text, _) = three_clusters(3000);
        let points = dir.join("points.csv");
        std::fs::write(&points, text).unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tsne"))
            .args([
                "embed",
                &s(&points),
                "--iterations",
                "1000000",
                "--out",
                &s(&dir.join("y.csv")),
                "--save-model",
                &s(&dir.join("m.tsne")),
                "--snapshot-every",
                "1000000",
                "--snapshot-dir",
                &s(&dir.join("snaps")),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let sent = std::time::Instant::now();
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        let status = child.wait().unwrap();
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(code), "{signal}");
        assert!(took.as_secs_f64() < 1.0, "{signal}: took {took:?}");
        assert_eq!(entries(&dir), ["points.csv", "snaps"], "{signal}: files left behind");
        // Only finished snapshots: the start's, written before the first iteration.
        assert!(entries(&dir.join("snaps")).iter().all(|f| f == "positions_00000.csv"), "{signal}");
    }
}

#[test]
fn max_memory_stops_before_the_work_with_one_line() {
    let o = tsne(&["demo", "--max-memory", "1M"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.trim_end().lines().count() == 1, "{err}");
    assert!(
        err.contains("kNN graph and affinities") && err.contains("1 MB allowed by --max-memory"),
        "{err}"
    );
    let o = tsne(&["demo", "--max-memory", "lots"]);
    assert!(!o.status.success());
    let o = tsne(&["demo", "--iterations", "300", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["peak_rss_mib"].as_f64().is_some_and(|m| m > 1.0), "{v}");
    let after = &v["peak_rss_mib_after"];
    let (a, b, c) = (after["neighbors"].as_f64(), after["affinities"].as_f64(), after["optimize"].as_f64());
    assert!(a <= b && b <= c && c <= v["peak_rss_mib"].as_f64() && a.is_some(), "{v}");
}

/// Points in a Matrix Market file stay sparse and embed to the bits of the same values in a
/// CSV (with a start that reads no coordinates); a .mtx with --neighbors precomputed is
/// refused with one line.
#[test]
fn sparse_mtx_points_embed_like_their_dense_csv() {
    let dir = scratch("sparse-mtx");
    let n = 90;
    // Three clusters in 6 dimensions, half the coordinates zero.
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..6)
                .map(|c| {
                    if (i + c) % 2 == 0 {
                        0.0
                    } else {
                        (i % 3 * 10) as f64 + ((i * 7 + c) % 5) as f64 * 0.3
                    }
                })
                .collect()
        })
        .collect();
    let csv: String =
        rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",") + "\n").collect();
    let entries: Vec<String> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(move |(c, v)| format!("{} {} {v}", i + 1, c + 1))
        })
        .collect();
    let mtx = format!(
        "%%MatrixMarket matrix coordinate real general\n{n} 6 {}\n{}\n",
        entries.len(),
        entries.join("\n")
    );
    let (a, b) = (dir.join("points.csv"), dir.join("points.mtx"));
    std::fs::write(&a, csv).unwrap();
    std::fs::write(&b, mtx).unwrap();
    let run = |input: &Path, out: &Path| {
        let o = tsne(&[
            "embed",
            input.to_str().unwrap(),
            "--perplexity",
            "8",
            "--iterations",
            "200",
            "--init",
            "random",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    assert_eq!(run(&a, &dir.join("a.csv")), run(&b, &dir.join("b.csv")));
    let o = tsne(&["embed", b.to_str().unwrap(), "--neighbors", "precomputed"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.trim_end().lines().count() == 1 && stderr.contains("sparse points"),
        "{stderr}"
    );
}

/// Runs `args`, expects failure with one line on stderr containing `needle`.
fn assert_one_line_error(args: &[&str], needle: &str) -> String {
    let o = tsne(args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{args:?} succeeded unexpectedly");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{args:?}: {stderr}");
    stderr
}

#[test]
fn outputs_are_checked_before_any_work() {
    let dir = scratch("outputs");
    let missing = dir.join("no-such-folder");
    let out = missing.join("o.csv");
    // The output is refused before the input is even opened.
    let input = dir.join("absent.csv");
    assert_one_line_error(
        &["embed", input.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &format!("the folder {} does not exist", missing.display()),
    );
    let plot = missing.join("map.png");
    assert_one_line_error(&["demo", "--plot", plot.to_str().unwrap()], "does not exist");
    assert_one_line_error(&["demo", "--out", dir.to_str().unwrap()], "it is a folder");
    let model = missing.join("m.tsne");
    assert_one_line_error(
        &["optimize", "--model", "m.tsne", "--save-model", model.to_str().unwrap()],
        "does not exist",
    );
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("snapshots");
    assert_one_line_error(
        &["demo", "--snapshot-every", "10", "--snapshot-dir", under_file.to_str().unwrap()],
        "does not exist",
    );
    assert_eq!(entries(&dir), vec!["file".to_string()], "files left behind");
}

#[test]
fn messages_name_what_the_user_set() {
    let dir = scratch("messages");
    let one = dir.join("one.csv");
    std::fs::write(&one, (0..40).map(|i| format!("{}\n", i * i)).collect::<String>()).unwrap();
    // One column and no --pca: the message is about the PCA start, in the CLI's flags.
    let e = assert_one_line_error(&["embed", one.to_str().unwrap(), "--perplexity", "5"], "--init spectral");
    assert!(e.contains("PCA start") && !e.contains("`"), "{e}");
    // Library hints arrive as flags, not as library names.
    let e = assert_one_line_error(&["demo", "--dims", "4", "--repulsion", "bh"], "use --repulsion exact");
    assert!(!e.contains("RepulsionMethod"), "{e}");
    // `auto` refuses to fall back to the O(n^2) repulsion on thousands of points unasked.
    let wide = dir.join("wide.csv");
    let rows: String =
        (0..3000).map(|i| format!("{},{},{}\n", i % 7, (i * 13) % 11, (i * 29) % 17)).collect();
    std::fs::write(&wide, rows).unwrap();
    assert_one_line_error(&["embed", wide.to_str().unwrap(), "--dims", "4"], "add --repulsion exact");
    // On the digits it runs, naming the cost.
    let o = tsne(&["demo", "--dims", "4", "--iterations", "2"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("note: --dims 4 has no fast repulsion"));
}

#[test]
fn progress_names_every_phase_in_order() {
    let o = tsne(&["demo", "--progress", "plain", "--iterations", "300", "--pca", "20"]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let names: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    let phases = [
        "PCA",
        "neighbours",
        "affinities",
        "initialisation",
        "early exaggeration",
        "optimisation",
        "10-NN accuracy",
        "writing",
    ];
    assert_eq!(names.len(), phases.len() + 1, "{stderr}");
    assert_eq!(names[..phases.len()], phases, "{stderr}");
    assert!(lines[4].ends_with(" s, 250 iterations") && lines[5].ends_with(" s, 50 iterations"), "{stderr}");
    assert!(lines[8].starts_with("embedded 1797 points"), "{stderr}");
    // Without a terminal, the default shows only the summary line.
    let o = tsne(&["demo", "--iterations", "20"]);
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

#[test]
fn animate_writes_every_frame_from_iteration_zero() {
    let dir = scratch("animate");
    let gif_path = dir.join("run.gif");
    let o = tsne(&[
        "demo",
        "--iterations",
        "60",
        "--animate",
        gif_path.to_str().unwrap(),
        "--animate-frames",
        "12",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options.read_info(std::fs::File::open(&gif_path).unwrap()).unwrap();
    let mut delays = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        delays.push(frame.delay);
    }
    // 12 frames sharing 8 s, the last one held longer.
    assert_eq!(delays.len(), 12);
    assert!(delays[..11].iter().all(|&d| d == 67), "{delays:?}");
    assert!(delays[11] > 67, "{delays:?}");
    assert_eq!(entries(&dir), ["run.gif"]);
    let e =
        assert_one_line_error(&["demo", "--dims", "3", "--animate", gif_path.to_str().unwrap()], "2-D maps");
    assert!(e.contains("--dims 3"), "{e}");
    assert_one_line_error(
        &["demo", "--animate", dir.join("run.png").to_str().unwrap()],
        "expected one of .gif",
    );
}

/// Runs `tsne embed` and returns the written embedding's text.
fn embedded(args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsne"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or(b"")).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn tables_as_people_write_them_embed_like_the_plain_file() {
    let dir = scratch("tables");
    let rows: Vec<String> = three_clusters(90).0.lines().map(String::from).collect();
    let plain = dir.join("plain.csv");
    std::fs::write(&plain, rows.join("\n") + "\n").unwrap();
    // pandas' df.to_csv(): an unnamed index column and a header; a text id column; labels.
    let pandas = dir.join("pandas.csv");
    let text: String = rows.iter().enumerate().map(|(i, r)| format!("{i},{r}\n")).collect();
    std::fs::write(&pandas, format!(",a,b\n{text}")).unwrap();
    let named = dir.join("named.csv");
    let text: String = rows.iter().enumerate().map(|(i, r)| format!("cell{i},{r},type{}\n", i % 3)).collect();
    std::fs::write(&named, format!("barcode,a,b,kind\n{text}")).unwrap();
    let labels = dir.join("labels.txt");
    let label_lines: String = (0..90).map(|i| format!("type{}\n", i % 3)).collect();
    std::fs::write(dir.join("kind.txt"), format!("kind\n{label_lines}")).unwrap();
    std::fs::write(&labels, format!("label\n{label_lines}")).unwrap();
    let out = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let common = ["--perplexity", "10", "--iterations", "300"];
    let run = |input: &str, extra: &[&str], to: &str, stdin: Option<&[u8]>| {
        let mut args = vec!["embed", input, "--out", to];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        embedded(&args, stdin)
    };
    run(plain.to_str().unwrap(), &[], &out("plain.out.csv"), None);
    let note = run(pandas.to_str().unwrap(), &[], &out("pandas.out.csv"), None);
    assert!(note.contains("read as row ids (pandas' index)"), "{note}");
    let stdin = std::fs::read(&plain).unwrap();
    run("-", &[], &out("stdin.out.csv"), Some(&stdin));
    run(
        named.to_str().unwrap(),
        &["--id-column", "barcode", "--labels-column", "kind", "--with-ids"],
        &out("named.out.csv"),
        None,
    );
    let header_labels =
        run(plain.to_str().unwrap(), &["--labels", labels.to_str().unwrap()], &out("l.csv"), None);
    assert!(header_labels.contains("10-NN label accuracy"), "{header_labels}");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("pandas.out.csv"), read("plain.out.csv"));
    assert_eq!(read("stdin.out.csv"), read("plain.out.csv"));
    // The id and label columns go to the output around the same coordinates.
    let with_ids = read("named.out.csv");
    let mut lines = with_ids.lines();
    assert_eq!(lines.next(), Some("id,dim1,dim2,label"));
    for (line, plain_line) in lines.zip(read("plain.out.csv").lines()) {
        let (id, rest) = line.split_once(',').unwrap();
        let (coords, label) = rest.rsplit_once(',').unwrap();
        assert!(id.starts_with("cell") && label.starts_with("type"), "{line}");
        assert_eq!(coords, plain_line);
    }
    // A header the reader cannot tell from a label gets a hint.
    let kind = dir.join("kind.txt");
    assert_one_line_error(
        &["embed", plain.to_str().unwrap(), "--labels", kind.to_str().unwrap()],
        "91 labels for 90 points: is the first line (`kind`) a header?",
    );
    // A text column without a role is an error naming it and the flags that give it one.
    let e = assert_one_line_error(&["embed", named.to_str().unwrap(), "--id-column", "barcode"], "`kind`");
    assert!(e.contains("--labels-column kind") && e.contains("--drop-columns kind"), "{e}");
}
