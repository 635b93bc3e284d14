//! Numbered snapshots of the positions (and PNG frames) during a fit, for animations: the
//! start (iteration 0, from the fit's start listener) and every `every`-th iteration.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;
use tsne::{Matrix, Progress};
use tsne_cli::plot::{self, PlotOptions};

use crate::output;

/// Writes `positions_NNNNN.csv` (and `frame_NNNNN.png`) into `dir`.
pub struct Snapshots {
    pub every: usize,
    pub dir: PathBuf,
    /// The plot of each frame, when one is drawn.
    pub plot: Option<PlotOptions>,
    pub labels: Option<Vec<String>>,
    /// The first failure, which stops the run.
    pub error: Mutex<Option<anyhow::Error>>,
}

impl Snapshots {
    /// Writes the starting positions as iteration 0; a failure is kept and stops the run at
    /// its first iteration.
    pub fn start(&self, y: &Matrix) {
        if let Err(e) = self.write(0, y) {
            self.keep(e);
        }
    }

    /// Writes the snapshot of `p` when it is due; a failure is kept and stops the run.
    pub fn take(&self, p: &Progress<'_>) -> ControlFlow<()> {
        if self.failed() {
            return ControlFlow::Break(());
        }
        if p.iteration % self.every != 0 {
            return ControlFlow::Continue(());
        }
        match self.write(p.iteration, &p.positions()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.keep(e);
                ControlFlow::Break(())
            }
        }
    }

    /// The first failure, if any (taken: a second call sees none).
    pub fn take_error(&self) -> Option<anyhow::Error> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn keep(&self, e: anyhow::Error) {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
    }

    fn failed(&self) -> bool {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn write(&self, iteration: usize, y: &Matrix) -> Result<()> {
        let csv = self.dir.join(format!("positions_{iteration:05}.csv"));
        let mut staged = output::Staged::default();
        staged.stage(&csv, |tmp| output::write_embedding(&csv, tmp, y))?;
        if let Some(options) = &self.plot {
            let png = self.dir.join(format!("frame_{iteration:05}.png"));
            let title = format!("{} (iteration {iteration})", options.title);
            let options = PlotOptions { title, ..options.clone() };
            staged.stage(&png, |tmp| plot::scatter(tmp, y, self.labels.as_deref(), &options))?;
        }
        staged.commit()
    }
}
