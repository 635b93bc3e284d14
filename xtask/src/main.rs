//! `cargo xtask bench`: runs the `tsne` CLI (and openTSNE, when installed) on the same data with
//! the same parameters, and reports phase times, peak memory and quality side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tsne::metrics::{knn_accuracy, trustworthiness};
use tsne::Matrix;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--large] [--peers] [--repulsion auto|bh|fft] [--threads N] [--out DIR] [--data FILE.csv --labels FILE]";

struct Options {
    quick: bool,
    large: bool,
    peers: bool,
    threads: usize,
    /// Repulsion method for both implementations: `auto` (Barnes-Hut below 10,000 points,
    /// FFT from there, the rule both share), `bh` or `fft`.
    repulsion: String,
    out: PathBuf,
    data: Option<(PathBuf, Option<PathBuf>)>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("bench") {
        bail!("{USAGE}");
    }
    let mut o = Options {
        quick: false,
        large: false,
        peers: false,
        threads: 2,
        repulsion: "auto".into(),
        out: "bench-out".into(),
        data: None,
    };
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--large" => o.large = true,
            "--peers" => o.peers = true,
            "--threads" => o.threads = it.next().context(USAGE)?.parse()?,
            "--repulsion" => {
                o.repulsion = it.next().context(USAGE)?.clone();
                if !["auto", "bh", "fft"].contains(&o.repulsion.as_str()) {
                    bail!("--repulsion must be auto, bh or fft\n{USAGE}");
                }
            }
            "--out" => o.out = it.next().context(USAGE)?.into(),
            "--data" => o.data = Some((it.next().context(USAGE)?.into(), None)),
            "--labels" => {
                let l = it.next().context(USAGE)?;
                o.data.as_mut().context("--labels needs --data first")?.1 = Some(l.into());
            }
            _ => bail!("unknown argument {a}\n{USAGE}"),
        }
    }
    bench(&o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A dataset on disk: CSV points and a labels file.
struct Dataset {
    name: String,
    points: PathBuf,
    labels: Option<PathBuf>,
}

fn write_csv(path: &Path, x: &Matrix) -> Result<()> {
    let mut s = String::with_capacity(x.rows() * x.cols() * 8);
    for i in 0..x.rows() {
        for (c, v) in x.row(i).iter().enumerate() {
            if c > 0 {
                s.push(',');
            }
            write!(s, "{v:.6}")?;
        }
        s.push('\n');
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

fn datasets(o: &Options) -> Result<Vec<Dataset>> {
    let dir = o.out.join("data");
    std::fs::create_dir_all(&dir)?;
    let mut out = vec![Dataset {
        name: "digits".into(),
        points: root().join("data/digits.csv"),
        labels: Some(root().join("data/digits_labels.csv")),
    }];
    let mut sizes = vec![10_000];
    if !o.quick {
        sizes.extend([70_000, 100_000]);
    }
    if o.large {
        sizes.push(1_000_000);
    }
    for n in sizes {
        let name = format!("mixture_{n}x50");
        let points = dir.join(format!("{name}.csv"));
        let labels = dir.join(format!("{name}_labels.csv"));
        if !points.exists() {
            let (x, l) = tsne_benches::gaussian_mixture(n, 50, 10, 42);
            write_csv(&points, &x)?;
            std::fs::write(&labels, l.iter().map(|v| format!("{v}\n")).collect::<String>())?;
        }
        out.push(Dataset { name, points, labels: Some(labels) });
    }
    if let Some((p, l)) = &o.data {
        let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("user").to_string();
        out.push(Dataset { name, points: p.clone(), labels: l.clone() });
    }
    Ok(out)
}

/// Runs `cmd` under `/usr/bin/time -f %M` when available; returns stdout and peak RSS in MiB.
fn run_timed(cmd: &[String]) -> Result<(String, Option<f64>)> {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut c = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").args(cmd);
        c
    } else {
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..]);
        c
    };
    let out = c.output().with_context(|| format!("running {}", cmd[0]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} failed: {}", cmd.join(" "), stderr.trim());
    }
    let rss = gnu_time
        .then(|| stderr.lines().last().and_then(|l| l.trim().parse::<f64>().ok()).map(|kb| kb / 1024.0))
        .flatten();
    Ok((String::from_utf8(out.stdout)?, rss))
}

fn read_matrix(path: &Path) -> Result<Matrix> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split([',', '\t', ' '])
                .filter(|f| !f.is_empty())
                .map(|f| f.trim().parse())
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    Ok(Matrix::from_rows(&rows)?)
}

/// 10-NN accuracy and trustworthiness (k = 10) on an evenly strided subsample of 5000 points.
fn quality(input: &Matrix, embedding: &Matrix, labels: Option<&[String]>) -> Result<Value> {
    let acc = match labels {
        Some(l) => Some(knn_accuracy(embedding, l, 10)?),
        None => None,
    };
    let n = input.rows();
    let m = n.min(5000);
    let pick: Vec<usize> = (0..m).map(|t| t * n / m).collect();
    let sub = |x: &Matrix| Matrix::from_rows(&pick.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>());
    let trust = trustworthiness(&sub(input)?, &sub(embedding)?, 10)?;
    Ok(json!({ "knn_accuracy_10": acc, "trustworthiness_10": trust }))
}

fn bench(o: &Options) -> Result<()> {
    std::fs::create_dir_all(&o.out)?;
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "tsne-cli"])
        .current_dir(root())
        .status()?;
    if !status.success() {
        bail!("building the tsne CLI failed");
    }
    let cli = root().join("target/release/tsne");
    let peer_script = root().join("xtask/peers/opentsne_run.py");
    let have_opentsne = o.peers
        && Command::new("python3")
            .args(["-c", "import openTSNE"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    let iterations = 1000;
    let mut results = Vec::new();
    for ds in datasets(o)? {
        eprintln!("== {}", ds.name);
        let input = read_matrix(&ds.points)?;
        let labels: Option<Vec<String>> = match &ds.labels {
            Some(p) => Some(
                std::fs::read_to_string(p)?
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ),
            None => None,
        };
        let ours_out = o.out.join(format!("{}.ours.csv", ds.name));
        let mut cmd = vec![
            cli.display().to_string(),
            "embed".into(),
            ds.points.display().to_string(),
            "--json".into(),
            "--threads".into(),
            o.threads.to_string(),
            "--iterations".into(),
            iterations.to_string(),
            "--out".into(),
            ours_out.display().to_string(),
        ];
        // Our `auto` also picks exact below 500 points; the suite compares approximations.
        let method = match o.repulsion.as_str() {
            "auto" if input.rows() < 10_000 => "bh",
            "auto" => "fft",
            m => m,
        };
        cmd.extend(["--repulsion".into(), method.into()]);
        if let Some(l) = &ds.labels {
            cmd.extend(["--labels".into(), l.display().to_string()]);
        }
        let (stdout, rss) = run_timed(&cmd)?;
        let ours: Value = serde_json::from_str(stdout.trim())?;
        let q = quality(&input, &read_matrix(&ours_out)?, labels.as_deref())?;
        let mut row = json!({
            "dataset": ds.name, "n": input.rows(), "dims": input.cols(), "iterations": iterations, "threads": o.threads,
            "ours": { "summary": ours, "peak_rss_mib": rss, "quality": q },
        });
        if o.peers {
            row["opentsne"] = if have_opentsne {
                let peer_out = o.out.join(format!("{}.opentsne.csv", ds.name));
                let cmd: Vec<String> = vec![
                    "python3".into(),
                    peer_script.display().to_string(),
                    ds.points.display().to_string(),
                    peer_out.display().to_string(),
                    o.threads.to_string(),
                    iterations.to_string(),
                    "250".into(),
                    "42".into(),
                    method.into(),
                ];
                let (stdout, rss) = run_timed(&cmd)?;
                let peer: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))?;
                let q = quality(&input, &read_matrix(&peer_out)?, labels.as_deref())?;
                json!({ "summary": peer, "peak_rss_mib": rss, "quality": q })
            } else {
                json!({ "skipped": "python3 cannot import openTSNE" })
            };
        }
        eprintln!("{row}");
        results.push(row);
    }
    let report = json!({ "command": std::env::args().collect::<Vec<_>>().join(" "), "results": results });
    std::fs::write(o.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    let md = markdown(&report)?;
    std::fs::write(o.out.join("report.md"), &md)?;
    println!("{md}");
    Ok(())
}

fn markdown(report: &Value) -> Result<String> {
    let mut s = String::new();
    writeln!(s, "| dataset | n | impl | repulsion | kNN+P s | optimise s | total s | ms/iter | ns/iter/point | peak MiB | KL | 10-NN acc | trust. | total ratio ours/peer |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for r in report["results"].as_array().into_iter().flatten() {
        let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
        let ours = &r["ours"];
        let ot = &ours["summary"]["timings_s"];
        let ours_knn = ot["neighbors"].as_f64().unwrap_or(0.0) + ot["affinities"].as_f64().unwrap_or(0.0);
        let iters = r["iterations"].as_f64().unwrap_or(1.0);
        let ours_total = ot["total"].as_f64().unwrap_or(f64::NAN);
        let peer_total = r["opentsne"]["summary"]["timings_s"]["total"].as_f64();
        writeln!(
            s,
            "| {} | {} | ours | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0} | {} | {} | {} | {} | {} |",
            r["dataset"].as_str().unwrap_or(""),
            r["n"],
            ours["summary"]["repulsion"].as_str().unwrap_or(""),
            ours_knn,
            ot["optimize"].as_f64().unwrap_or(f64::NAN),
            ours_total,
            1e3 * ot["optimize"].as_f64().unwrap_or(f64::NAN) / iters,
            1e9 * ot["optimize"].as_f64().unwrap_or(f64::NAN) / iters / r["n"].as_f64().unwrap_or(1.0),
            f(&ours["peak_rss_mib"]),
            f(&ours["summary"]["kl_divergence"]),
            f(&ours["quality"]["knn_accuracy_10"]),
            f(&ours["quality"]["trustworthiness_10"]),
            peer_total.map_or("-".into(), |p| format!("{:.2}", ours_total / p)),
        )?;
        let peer = &r["opentsne"];
        if let Some(skip) = peer["skipped"].as_str() {
            writeln!(
                s,
                "| {} | {} | openTSNE | skipped: {skip} | | | | | | | | | | |",
                r["dataset"].as_str().unwrap_or(""),
                r["n"]
            )?;
        } else if !peer.is_null() {
            let pt = &peer["summary"]["timings_s"];
            writeln!(
                s,
                "| {} | {} | openTSNE {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0} | {} | {} | {} | {} | |",
                r["dataset"].as_str().unwrap_or(""),
                r["n"],
                peer["summary"]["version"].as_str().unwrap_or(""),
                peer["summary"]["repulsion"].as_str().unwrap_or(""),
                pt["neighbors_and_affinities"].as_f64().unwrap_or(f64::NAN),
                pt["optimize"].as_f64().unwrap_or(f64::NAN),
                pt["total"].as_f64().unwrap_or(f64::NAN),
                1e3 * pt["optimize"].as_f64().unwrap_or(f64::NAN) / iters,
                1e9 * pt["optimize"].as_f64().unwrap_or(f64::NAN) / iters / r["n"].as_f64().unwrap_or(1.0),
                f(&peer["peak_rss_mib"]),
                f(&peer["summary"]["kl_divergence"]),
                f(&peer["quality"]["knn_accuracy_10"]),
                f(&peer["quality"]["trustworthiness_10"]),
            )?;
        }
    }
    Ok(s)
}
