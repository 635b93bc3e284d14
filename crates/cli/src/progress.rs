//! What a run shows while it works: each phase by name (a spinner, or a bar with an ETA where
//! the amount of work is known) and its time when it ends.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tsne::{Phase, PhaseEvent, Progress};

/// How progress is shown on stderr.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars and spinners on a terminal, nothing otherwise.
    Auto,
    /// Bars and spinners.
    Bar,
    /// One line as each phase ends (for logs).
    Plain,
    /// Nothing but the closing summary line.
    None,
}

#[derive(Args)]
pub struct ProgressArgs {
    /// Progress on stderr: auto (bars on a terminal), bar, plain (a line per phase) or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
}

impl ProgressArgs {
    /// A reporter for a run whose optimisation has `iterations`, the first `early` of them
    /// with early exaggeration.
    pub fn reporter(&self, iterations: usize, early: usize) -> Arc<Reporter> {
        let mode = match self.progress {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::None,
            mode => mode,
        };
        let current = Mutex::new(Current { name: String::new(), start: Instant::now(), bar: None });
        Arc::new(Reporter { mode, iterations, early: early.min(iterations), current })
    }
}

/// The phase being shown.
struct Current {
    name: String,
    start: Instant,
    bar: Option<ProgressBar>,
}

/// Shows phases and iterations; shared by the phase listener and the iteration callback.
pub struct Reporter {
    mode: ProgressMode,
    iterations: usize,
    early: usize,
    current: Mutex<Current>,
}

impl Reporter {
    fn current(&self) -> MutexGuard<'_, Current> {
        // A panic while it was held leaves only a display behind.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a phase of unknown length (a spinner) or of `steps` steps (a bar with an ETA).
    pub fn begin(&self, name: &str, steps: Option<usize>) {
        let bar = (self.mode == ProgressMode::Bar).then(|| new_bar(name, steps));
        *self.current() = Current { name: name.to_string(), start: Instant::now(), bar };
    }

    /// Ends the phase begun last, showing its time and `detail`.
    pub fn end(&self, detail: &str) {
        let mut current = self.current();
        let line = format!("{}: {}{detail}", current.name, seconds(current.start.elapsed()));
        if let Some(bar) = current.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != ProgressMode::None {
            eprintln!("{line}");
        }
    }

    /// The listener of the library's phases.
    pub fn phase(&self, event: PhaseEvent, preprocessing: &str) {
        match event {
            PhaseEvent::Started(Phase::Optimization) if self.early > 0 => {
                self.begin("early exaggeration", Some(self.early))
            }
            PhaseEvent::Started(Phase::Optimization) => self.begin("optimisation", Some(self.iterations)),
            PhaseEvent::Started(phase) => self.begin(phase_name(phase, preprocessing), None),
            PhaseEvent::Finished(Phase::Optimization, _) => {
                self.end(&format!(", {} iterations", self.iterations - self.early))
            }
            PhaseEvent::Finished(..) => self.end(""),
        }
    }

    /// Moves the bar to `p`'s iteration; leaves early exaggeration when it is over.
    pub fn iteration(&self, p: &Progress<'_>) {
        if self.early > 0 && p.iteration == self.early && self.early < self.iterations {
            self.end(&format!(", {} iterations", self.early));
            self.begin("optimisation", Some(self.iterations - self.early));
            return;
        }
        let current = self.current();
        if let Some(bar) = &current.bar {
            let done = if p.iteration > self.early { p.iteration - self.early } else { p.iteration };
            bar.set_position(done as u64);
            if let Some(kl) = p.kl_divergence {
                bar.set_message(format!("KL {kl:.4}"));
            }
        }
    }
}

/// How the CLI names each library phase.
fn phase_name(phase: Phase, preprocessing: &str) -> &str {
    match phase {
        Phase::Preprocessing => preprocessing,
        Phase::Neighbors => "neighbours",
        Phase::Affinities => "affinities",
        Phase::Initialization => "initialisation",
        Phase::Optimization => "optimisation",
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn new_bar(name: &str, steps: Option<usize>) -> ProgressBar {
    let (bar, template) = match steps {
        Some(n) => (
            ProgressBar::new(n as u64),
            "{prefix:>20} {bar:40} {pos}/{len} [{elapsed_precise} < {eta}] {msg}",
        ),
        None => (ProgressBar::new_spinner(), "{prefix:>20} {spinner} [{elapsed_precise}] {msg}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
