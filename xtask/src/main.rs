//! `cargo xtask bench`: runs the `tsne` CLI (and openTSNE, when installed, and the `bhtsne`
//! crate, with the `bhtsne` feature) on the same data with the same parameters, and reports
//! phase times, peak memory and quality side by side, with plots.
//! `cargo xtask repulsion`: one FFT repulsion evaluation, ours against openTSNE's.
//! `cargo xtask knn`: time and recall of each neighbour search.

#![forbid(unsafe_code)]

#[cfg(feature = "bhtsne")]
mod bhtsne_peer;
mod knn;
mod repulsion;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tsne::metrics::{knn_accuracy_sampled, trustworthiness};
use tsne::Matrix;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--large] [--sizes N,N,..] [--iterations N] [--peers] [--bhtsne-max-n N] [--repulsion auto|bh|fft] [--neighbors auto|exact|nndescent|hnsw] [--threads N] [--dims 2|3] [--python PYTHON] [--standin] [--out DIR] [--data FILE.csv --labels FILE]
       cargo xtask repulsion [--sizes N,N,..] [--repeats R] [--threads N] [--out DIR]
       cargo xtask knn [--sizes N,N,..] [--methods nndescent,exact,hnsw] [--exact-max-n N] [--threads N] [--out DIR]";

struct Options {
    quick: bool,
    large: bool,
    peers: bool,
    /// A Python interpreter with the `tsne_rs` package: ours through the binding as a peer.
    python: Option<String>,
    /// Add the realistic 70,000-point stand-ins (`image_like`, 50-D and 784-D with PCA).
    standin: bool,
    threads: usize,
    /// Repulsion method for both implementations: `auto` (Barnes-Hut below 10,000 points,
    /// FFT from there, the rule both share), `bh` or `fft`.
    repulsion: String,
    /// Embedding dimensions (2 or 3) for ours and every peer; 3-D runs Barnes-Hut.
    dims: usize,
    out: PathBuf,
    data: Option<(PathBuf, Option<PathBuf>)>,
    /// Mixture sizes instead of the defaults of --quick / --large.
    sizes: Option<Vec<usize>>,
    iterations: usize,
    /// Largest dataset the `bhtsne` peer runs on (its vantage-point tree search is slow in 50-D).
    bhtsne_max_n: usize,
    repeats: usize,
    /// Our neighbour search (`auto`, `exact`, `nndescent`, `hnsw`); an approximate one is checked for
    /// recall against brute force on 1000 points.
    neighbors: String,
    /// Largest size `xtask knn` runs the exact and HNSW searches on.
    exact_max_n: usize,
    /// The searches `xtask knn` compares.
    methods: Vec<String>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str);
    if command == Some("peer-bhtsne") {
        #[cfg(feature = "bhtsne")]
        return bhtsne_peer::run(&args[1..]);
        #[cfg(not(feature = "bhtsne"))]
        bail!("xtask was built without the bhtsne feature");
    }
    if !matches!(command, Some("bench" | "repulsion" | "knn")) {
        bail!("{USAGE}");
    }
    let o = Options::parse(&args[1..])?;
    let sizes = || o.sizes.clone().unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    match command {
        Some("repulsion") => repulsion::run(&sizes(), o.repeats.max(1), o.threads, &o.out),
        Some("knn") => knn::run(&sizes(), &o.methods, o.threads, o.exact_max_n, &o.out),
        _ => bench(&o),
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            quick: false,
            large: false,
            peers: false,
            python: None,
            standin: false,
            threads: 2,
            repulsion: "auto".into(),
            dims: 2,
            out: "bench-out".into(),
            data: None,
            sizes: None,
            iterations: 1000,
            bhtsne_max_n: 10_000,
            repeats: 10,
            neighbors: "auto".into(),
            exact_max_n: 100_000,
            methods: vec!["nndescent".into(), "exact".into()],
        }
    }
}

impl Options {
    /// The options of the flags after the command, checked.
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().context(USAGE);
            match a.as_str() {
                "--quick" => o.quick = true,
                "--large" => o.large = true,
                "--peers" => o.peers = true,
                "--standin" => o.standin = true,
                "--python" => o.python = Some(value()?.clone()),
                "--threads" => o.threads = value()?.parse()?,
                "--iterations" => o.iterations = value()?.parse()?,
                "--bhtsne-max-n" => o.bhtsne_max_n = value()?.parse()?,
                "--methods" => o.methods = value()?.split(',').map(|m| m.trim().to_string()).collect(),
                "--exact-max-n" => o.exact_max_n = value()?.parse()?,
                "--repeats" => o.repeats = value()?.parse()?,
                "--neighbors" => o.neighbors = value()?.clone(),
                "--sizes" => {
                    o.sizes = Some(value()?.split(',').map(|v| v.trim().parse()).collect::<Result<_, _>>()?)
                }
                "--repulsion" => o.repulsion = value()?.clone(),
                "--dims" => o.dims = value()?.parse()?,
                "--out" => o.out = value()?.into(),
                "--data" => o.data = Some((value()?.into(), None)),
                "--labels" => {
                    let l = value()?;
                    o.data.as_mut().context("--labels needs --data first")?.1 = Some(l.into());
                }
                _ => bail!("unknown argument {a}\n{USAGE}"),
            }
        }
        o.check()?;
        Ok(o)
    }

    /// The choices' domains and the combinations that cannot run.
    fn check(&self) -> Result<()> {
        if !["auto", "exact", "nndescent", "hnsw"].contains(&self.neighbors.as_str()) {
            bail!("--neighbors must be auto, exact, nndescent or hnsw\n{USAGE}");
        }
        if !["auto", "bh", "fft"].contains(&self.repulsion.as_str()) {
            bail!("--repulsion must be auto, bh or fft\n{USAGE}");
        }
        if !(2..=3).contains(&self.dims) {
            bail!("--dims must be 2 or 3\n{USAGE}");
        }
        if self.dims == 3 && self.repulsion == "fft" {
            bail!(
                "--repulsion fft embeds in 1 or 2 dimensions; 3-D runs Barnes-Hut (--repulsion auto or bh)"
            );
        }
        if self.iterations < 251 {
            bail!("--iterations must exceed the 250 of early exaggeration");
        }
        Ok(())
    }
}

/// What the numbers were measured on: CPU model, cores, memory, toolchain.
fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']));
    let mem_kib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "memory_gib": mem_kib.map(|k| (k / 1048576.0 * 10.0).round() / 10.0),
        "rustc": rustc,
    })
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A dataset on disk: CSV points and a labels file.
struct Dataset {
    name: String,
    points: PathBuf,
    labels: Option<PathBuf>,
    /// Project on this many principal components first (ours; the peer scripts have no PCA
    /// step and skip such datasets).
    pca: Option<usize>,
}

pub(crate) fn write_csv(path: &Path, x: &Matrix) -> Result<()> {
    let mut s = String::with_capacity(x.rows() * x.cols() * 8);
    for i in 0..x.rows() {
        for (c, v) in x.row(i).iter().enumerate() {
            if c > 0 {
                s.push(',');
            }
            if v.fract() == 0.0 {
                write!(s, "{v}")?;
            } else {
                write!(s, "{v:.6}")?;
            }
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
        pca: None,
    }];
    let mut sizes = vec![10_000];
    if !o.quick {
        sizes.extend([70_000, 100_000]);
    }
    if o.large {
        sizes.push(1_000_000);
    }
    if let Some(s) = &o.sizes {
        sizes = s.clone();
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
        out.push(Dataset { name, points, labels: Some(labels), pca: None });
    }
    if o.standin {
        // The realistic stand-in: 70,000 points like an image dataset, in 50 dimensions and
        // in 784 (run with --pca 50).
        for (dims, pca) in [(50, None), (784, Some(50))] {
            let name = format!("imagelike_70000x{dims}");
            let points = dir.join(format!("{name}.csv"));
            let labels = dir.join(format!("{name}_labels.csv"));
            if !points.exists() {
                let (x, l) = tsne_benches::image_like(70_000, dims, 42);
                write_csv(&points, &x)?;
                std::fs::write(&labels, l.iter().map(|v| format!("{v}\n")).collect::<String>())?;
            }
            out.push(Dataset { name, points, labels: Some(labels), pca });
        }
    }
    if let Some((p, l)) = &o.data {
        let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("user").to_string();
        out.push(Dataset { name, points: p.clone(), labels: l.clone(), pca: None });
    }
    Ok(out)
}

/// Runs `cmd` and returns its stdout, whose last line is a JSON summary. Every runner (the CLI,
/// the Python peers, the bhtsne peer) reports its own peak resident memory there as
/// `peak_rss_mib`, so no external `time` program is needed.
fn run_timed(cmd: &[String]) -> Result<String> {
    let out =
        Command::new(&cmd[0]).args(&cmd[1..]).output().with_context(|| format!("running {}", cmd[0]))?;
    if !out.status.success() {
        bail!("{} failed: {}", cmd.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The directory cargo builds into: `CARGO_TARGET_DIR` or the workspace's `target`, as
/// `cargo metadata` reports it.
fn target_dir() -> Result<PathBuf> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    Ok(PathBuf::from(meta["target_directory"].as_str().context("cargo metadata names no target directory")?))
}

pub(crate) fn read_matrix(path: &Path) -> Result<Matrix> {
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

/// 10-NN accuracy (exact up to 100,000 points, on 100,000 evenly strided queries beyond) and
/// trustworthiness (k = 10) on an evenly strided subsample of 5000 points.
fn quality(input: &Matrix, embedding: &Matrix, labels: Option<&[String]>) -> Result<Value> {
    let acc = match labels {
        Some(l) => Some(knn_accuracy_sampled(embedding, l, 10, 100_000)?),
        None => None,
    };
    let n = input.rows();
    let m = n.min(5000);
    let pick: Vec<usize> = (0..m).map(|t| t * n / m).collect();
    let sub = |x: &Matrix| Matrix::from_rows(&pick.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>());
    let trust = trustworthiness(&sub(input)?, &sub(embedding)?, 10)?;
    // The widest extent of the embedding along a coordinate (the FFT grid grows with it).
    let width = (0..embedding.cols())
        .map(|c| {
            let (lo, hi) = (0..embedding.rows())
                .map(|i| embedding.row(i)[c])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            hi - lo
        })
        .fold(0.0, f64::max);
    Ok(json!({ "knn_accuracy_10": acc, "trustworthiness_10": trust, "width": width }))
}

/// The command line of a Python peer script: `DATA OUT THREADS ITERATIONS EXAGGERATION_ITERATIONS
/// SEED METHOD`, with the suite's 250 early iterations and seed 42.
fn python_peer(
    python: &str,
    script: &Path,
    ds: &Dataset,
    out: &Path,
    o: &Options,
    method: &str,
) -> Vec<String> {
    let mut cmd = vec![
        python.into(),
        script.display().to_string(),
        ds.points.display().to_string(),
        out.display().to_string(),
        o.threads.to_string(),
        o.iterations.to_string(),
        "250".into(),
        "42".into(),
        method.into(),
    ];
    if let Some(d) = ds.pca {
        cmd.extend(["--pca".into(), d.to_string()]);
    }
    if o.dims != 2 {
        cmd.extend(["--dims".into(), o.dims.to_string()]);
    }
    cmd
}

/// What `python3 -c script` prints (a peer's version), or `None` when it fails (not installed).
fn python_version(script: &str) -> Option<String> {
    Command::new("python3")
        .args(["-c", script])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs one peer command under `run_timed` and reads its JSON line and embedding.
fn run_peer(cmd: &[String], out: &Path, input: &Matrix, labels: Option<&[String]>) -> Result<Value> {
    let stdout = run_timed(cmd)?;
    let line = stdout.trim().lines().last().unwrap_or("");
    let peer: Value = serde_json::from_str(line)?;
    let rss = peer["peak_rss_mib"].as_f64();
    std::fs::write(out.with_extension("json"), line)?;
    let q = quality(input, &read_matrix(out)?, labels)?;
    Ok(json!({ "summary": peer, "peak_rss_mib": rss, "quality": q }))
}

/// What every dataset's runs share: the options, our CLI and which peers can run.
struct Bench<'a> {
    o: &'a Options,
    cli: PathBuf,
    opentsne_version: Option<String>,
    fitsne_version: Option<String>,
}

/// One dataset's points and labels, read once for the quality measures.
struct Loaded {
    input: Matrix,
    labels: Option<Vec<String>>,
}

fn bench(o: &Options) -> Result<()> {
    std::fs::create_dir_all(&o.out)?;
    let b = Bench {
        o,
        cli: build_cli()?,
        opentsne_version: o
            .peers
            .then(|| python_version("from openTSNE import __version__ as v; print(v)"))
            .flatten(),
        fitsne_version: o
            .peers
            .then(|| python_version("from fitsne._version import __version__ as v; print(v)"))
            .flatten(),
    };
    let mut results = Vec::new();
    for ds in datasets(o)? {
        eprintln!("== {}", ds.name);
        let data = Loaded { input: read_matrix(&ds.points)?, labels: read_labels(ds.labels.as_deref())? };
        let method = suite_method(o, data.input.rows());
        let ours = b.run_ours(&ds, &data, method)?;
        let peers = b.run_peers(&ds, &data, method)?;
        if o.peers || o.python.is_some() {
            plot_peers(o, &ds, &peers, data.labels.as_deref())?;
        }
        let row = json!({
            "dataset": ds.name, "n": data.input.rows(), "dims": data.input.cols(), "embedding_dims": o.dims,
            "iterations": o.iterations, "threads": o.threads,
            "ours": ours,
            "peers": peers,
        });
        eprintln!("{row}");
        results.push(row);
    }
    write_report(&b, results)
}

/// Builds the release CLI and returns its path.
fn build_cli() -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "tsne-cli"])
        .current_dir(root())
        .status()?;
    if !status.success() {
        bail!("building the tsne CLI failed");
    }
    Ok(target_dir()?.join("release").join("tsne"))
}

/// One label per non-empty line.
fn read_labels(path: Option<&Path>) -> Result<Option<Vec<String>>> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p)?;
    Ok(Some(text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()))
}

/// The repulsion the peers run: `auto` means Barnes-Hut below our FFT threshold (and in 3-D),
/// FFT above (our `auto` also picks exact below 500 points; the suite compares approximations).
fn suite_method(o: &Options, n: usize) -> &str {
    match o.repulsion.as_str() {
        "auto" if n < tsne::RepulsionMethod::AUTO_FFT_FROM || o.dims == 3 => "bh",
        "auto" => "fft",
        m => m,
    }
}

impl Bench<'_> {
    /// Ours runs its own `auto` (the same choice for these sizes) unless a method is given.
    fn ours_method<'m>(&self, method: &'m str) -> &'m str {
        if self.o.repulsion == "auto" {
            "auto"
        } else {
            method
        }
    }

    /// Our CLI on `ds`: its summary, peak memory and quality.
    fn run_ours(&self, ds: &Dataset, data: &Loaded, method: &str) -> Result<Value> {
        let o = self.o;
        let ours_out = o.out.join(format!("{}.ours.csv", ds.name));
        let mut cmd = vec![
            self.cli.display().to_string(),
            "embed".into(),
            ds.points.display().to_string(),
            "--json".into(),
            "--threads".into(),
            o.threads.to_string(),
            "--iterations".into(),
            o.iterations.to_string(),
            "--out".into(),
            ours_out.display().to_string(),
            "--plot".into(),
            o.out.join(format!("{}.ours.png", ds.name)).display().to_string(),
        ];
        cmd.extend([
            "--repulsion".into(),
            self.ours_method(method).into(),
            "--neighbors".into(),
            o.neighbors.clone(),
        ]);
        cmd.push("--check-recall".into());
        if o.dims != 2 {
            cmd.extend(["--dims".into(), o.dims.to_string()]);
        }
        if let Some(d) = ds.pca {
            cmd.extend(["--pca".into(), d.to_string()]);
        }
        if let Some(l) = &ds.labels {
            cmd.extend(["--labels".into(), l.display().to_string()]);
        }
        let stdout = run_timed(&cmd)?;
        let ours: Value = serde_json::from_str(stdout.trim())?;
        let rss = ours["peak_rss_mib"].as_f64();
        // Kept on disk at once, so that a run stopped during a long peer keeps our numbers.
        std::fs::write(o.out.join(format!("{}.ours.json", ds.name)), stdout.trim())?;
        let q = quality(&data.input, &read_matrix(&ours_out)?, data.labels.as_deref())?;
        Ok(json!({ "summary": ours, "peak_rss_mib": rss, "quality": q }))
    }

    /// Every peer that can run on `ds`, or why it was skipped.
    fn run_peers(&self, ds: &Dataset, data: &Loaded, method: &str) -> Result<serde_json::Map<String, Value>> {
        let o = self.o;
        let labels = data.labels.as_deref();
        let mut peers = serde_json::Map::new();
        if o.peers {
            let python =
                |version: &Option<String>, script: &str, file: &str, missing: &str| -> Result<Value> {
                    let out = o.out.join(format!("{}.{file}.csv", ds.name));
                    Ok(match version {
                        Some(_) => {
                            let cmd = python_peer("python3", &root().join(script), ds, &out, o, method);
                            run_peer(&cmd, &out, &data.input, labels)?
                        }
                        None => json!({ "skipped": missing }),
                    })
                };
            let opentsne = python(
                &self.opentsne_version,
                "xtask/peers/opentsne_run.py",
                "opentsne",
                "python3 cannot import openTSNE",
            )?;
            peers.insert("openTSNE".into(), opentsne);
            let fitsne = python(
                &self.fitsne_version,
                "xtask/peers/fitsne_run.py",
                "fit-sne",
                "python3 cannot import fitsne",
            )?;
            peers.insert("FIt-SNE".into(), fitsne);
            self.run_bhtsne(ds, data, method, &mut peers)?;
        }
        if let (Some(python), None) = (&o.python, ds.pca) {
            let out = o.out.join(format!("{}.tsne_rs.csv", ds.name));
            let script = root().join("xtask/peers/tsne_rs_run.py");
            let cmd = python_peer(python, &script, ds, &out, o, self.ours_method(method));
            peers.insert("tsne_rs".into(), run_peer(&cmd, &out, &data.input, labels)?);
        }
        Ok(peers)
    }

    /// The bhtsne crate with the suite's method ("bhtsne") and with its other one ("bhtsne-bh"
    /// or "bhtsne-fft"), so that its faster method is always in the table.
    fn run_bhtsne(
        &self,
        ds: &Dataset,
        data: &Loaded,
        method: &str,
        peers: &mut serde_json::Map<String, Value>,
    ) -> Result<()> {
        let o = self.o;
        let other = if method == "bh" { "fft" } else { "bh" };
        for (name, m) in [("bhtsne".to_string(), method), (format!("bhtsne-{other}"), other)] {
            let out = o.out.join(format!("{}.{name}.csv", ds.name));
            let r = if !cfg!(feature = "bhtsne") {
                json!({ "skipped": "xtask built without the bhtsne feature" })
            } else if m == "fft" && o.dims != 2 {
                json!({ "skipped": "the bhtsne FFT embeds in 2-D only" })
            } else if ds.pca.is_some() {
                json!({ "skipped": "the bhtsne peer has no PCA step" })
            } else if data.input.rows() > o.bhtsne_max_n {
                json!({ "skipped": format!("n above --bhtsne-max-n {}", o.bhtsne_max_n) })
            } else {
                let cmd: Vec<String> = vec![
                    std::env::current_exe()?.display().to_string(),
                    "peer-bhtsne".into(),
                    ds.points.display().to_string(),
                    out.display().to_string(),
                    o.threads.to_string(),
                    o.iterations.to_string(),
                    m.into(),
                    o.dims.to_string(),
                ];
                run_peer(&cmd, &out, &data.input, data.labels.as_deref())?
            };
            if m == method || r.get("skipped").is_none() {
                peers.insert(name, r);
            }
        }
        Ok(())
    }
}

/// A scatter plot of each peer's embedding that ran.
fn plot_peers(
    o: &Options,
    ds: &Dataset,
    peers: &serde_json::Map<String, Value>,
    labels: Option<&[String]>,
) -> Result<()> {
    for (name, _) in peers.iter().filter(|(_, v)| v.get("skipped").is_none()) {
        let emb = read_matrix(&o.out.join(format!("{}.{}.csv", ds.name, name.to_lowercase())))?;
        let png = o.out.join(format!("{}.{}.png", ds.name, name.to_lowercase()));
        let title = format!("{name} on {}", ds.name);
        let options = tsne_cli::plot::PlotOptions::for_dims(title, emb.cols());
        tsne_cli::plot::scatter(&png, &emb, labels, &options)?;
    }
    Ok(())
}

/// `report.json`, the time chart and `report.md` (also printed).
fn write_report(b: &Bench<'_>, results: Vec<Value>) -> Result<()> {
    let o = b.o;
    let report = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "opentsne_version": b.opentsne_version,
        "fitsne_version": b.fitsne_version,
        "bhtsne_version": cfg!(feature = "bhtsne").then_some("0.7.13"),
        "results": results,
    });
    std::fs::write(o.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    chart(&report, &o.out.join("time_vs_n.png"))?;
    let md = markdown(&report)?;
    std::fs::write(o.out.join("report.md"), &md)?;
    println!("{md}");
    Ok(())
}

/// Total time against n, log-log, one line per implementation and repulsion method.
fn chart(report: &Value, path: &Path) -> Result<()> {
    let mut series: Vec<tsne_cli::plot::Series> = Vec::new();
    let mut add = |name: String, n: f64, total: Option<f64>| {
        let Some(t) = total else { return };
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((n, t)),
            None => series.push(tsne_cli::plot::Series { name, points: vec![(n, t)] }),
        }
    };
    for r in report["results"].as_array().into_iter().flatten() {
        let n = r["n"].as_f64().unwrap_or(1.0);
        let ours = &r["ours"]["summary"];
        add(
            format!("ours ({})", ours["repulsion"].as_str().unwrap_or("")),
            n,
            ours["timings_s"]["total"].as_f64(),
        );
        for (name, p) in r["peers"].as_object().into_iter().flatten() {
            let s = &p["summary"];
            add(
                format!("{name} ({})", s["repulsion"].as_str().unwrap_or("")),
                n,
                s["timings_s"]["total"].as_f64(),
            );
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    if series.iter().all(|s| s.points.is_empty()) {
        return Ok(());
    }
    tsne_cli::plot::loglog(path, &series, "t-SNE run time against n (2 threads)", "points n", "total seconds")
}

fn markdown(report: &Value) -> Result<String> {
    let mut s = String::new();
    let m = &report["machine"];
    writeln!(
        s,
        "Machine: {}, {} cores, {} GiB; {}. Command: `{}`.\n",
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_gib"],
        m["rustc"].as_str().unwrap_or("?"),
        report["command"].as_str().unwrap_or("")
    )?;
    if let Some(d) = report["results"][0]["embedding_dims"].as_u64() {
        writeln!(s, "Every embedding is {d}-D.\n")?;
    }
    writeln!(s, "| dataset | n | impl | kNN (recall) | repulsion | kNN+P s | optimise s | total s | ms/iter | ns/iter/point | peak MiB | KL | 10-NN acc | trust. | width | total ratio ours/peer |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for r in report["results"].as_array().into_iter().flatten() {
        timing_rows(&mut s, r)?;
    }
    memory_table(&mut s, report)?;
    Ok(s)
}

/// The timing table's rows of one dataset: ours, then each peer with the ratio of totals.
fn timing_rows(s: &mut String, r: &Value) -> Result<()> {
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
    let iters = r["iterations"].as_f64().unwrap_or(1.0);
    let n = r["n"].as_f64().unwrap_or(1.0);
    let dataset = r["dataset"].as_str().unwrap_or("");
    let ours = &r["ours"];
    let ot = &ours["summary"]["timings_s"];
    let ours_knn = ot["neighbors"].as_f64().unwrap_or(0.0) + ot["affinities"].as_f64().unwrap_or(0.0);
    let ours_total = ot["total"].as_f64().unwrap_or(f64::NAN);
    let ours_opt = ot["optimize"].as_f64().unwrap_or(f64::NAN);
    writeln!(
            s,
            "| {dataset} | {} | ours | {} ({}) | {} | {ours_knn:.2} | {ours_opt:.2} | {ours_total:.2} | {:.1} | {:.0} | {} | {} | {} | {} | {} | |",
            r["n"],
            ours["summary"]["neighbors"].as_str().unwrap_or(""),
            ours["summary"]["recall"].as_f64().map_or("1".into(), |x| format!("{x:.4}")),
            ours["summary"]["repulsion"].as_str().unwrap_or(""),
            1e3 * ours_opt / iters,
            1e9 * ours_opt / iters / n,
            f(&ours["peak_rss_mib"]),
            f(&ours["summary"]["kl_divergence"]),
            f(&ours["quality"]["knn_accuracy_10"]),
            f(&ours["quality"]["trustworthiness_10"]),
            f(&ours["quality"]["width"]),
        )?;
    for (name, peer) in r["peers"].as_object().into_iter().flatten() {
        if let Some(skip) = peer["skipped"].as_str() {
            writeln!(s, "| {dataset} | {} | {name} | | skipped: {skip} | | | | | | | | | | | |", r["n"])?;
            continue;
        }
        let pt = &peer["summary"]["timings_s"];
        let total = pt["total"].as_f64().unwrap_or(f64::NAN);
        let opt = pt["optimize"].as_f64().unwrap_or(f64::NAN);
        let secs = |v: f64| if v.is_nan() { "-".to_string() } else { format!("{v:.2}") };
        let per = |v: f64, scale: f64, digits: usize| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{:.*}", digits, v * scale)
            }
        };
        writeln!(
                s,
                "| {dataset} | {} | {name} {} | own | {} | {} | {} | {total:.2} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
                r["n"],
                peer["summary"]["version"].as_str().unwrap_or(""),
                peer["summary"]["repulsion"].as_str().unwrap_or(""),
                secs(pt["neighbors_and_affinities"].as_f64().unwrap_or(f64::NAN)),
                secs(opt),
                per(opt, 1e3 / iters, 1),
                per(opt, 1e9 / iters / n, 0),
                f(&peer["peak_rss_mib"]),
                f(&peer["summary"]["kl_divergence"]),
                f(&peer["quality"]["knn_accuracy_10"]),
                f(&peer["quality"]["trustworthiness_10"]),
                f(&peer["quality"]["width"]),
                ours_total / total,
            )?;
    }
    Ok(())
}

/// Our peak memory at the end of each phase, per dataset.
fn memory_table(s: &mut String, report: &Value) -> Result<()> {
    writeln!(s, "\nOur peak resident memory when each phase ended (the peak never falls: the phase whose value first reaches the run's peak set it), in MiB and bytes per point:\n")?;
    writeln!(s, "| dataset | n | kNN | after kNN | after P | after optimise | B/point kNN | B/point P | B/point optimise |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|")?;
    for r in report["results"].as_array().into_iter().flatten() {
        let n = r["n"].as_f64().unwrap_or(f64::NAN);
        let after = &r["ours"]["summary"]["peak_rss_mib_after"];
        let phases = ["neighbors", "affinities", "optimize"].map(|p| after[p].as_f64());
        let mib = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
        let per_point = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.0}", x * 1048576.0 / n));
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["dataset"].as_str().unwrap_or(""),
            r["n"],
            r["ours"]["summary"]["neighbors"].as_str().unwrap_or(""),
            mib(phases[0]),
            mib(phases[1]),
            mib(phases[2]),
            per_point(phases[0]),
            per_point(phases[1]),
            per_point(phases[2]),
        )?;
    }
    Ok(())
}
