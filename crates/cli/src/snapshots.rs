//! Numbered snapshots of the positions (and PNG frames) during a fit, for animations.

use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Result;
use tsne::Progress;
use tsne_cli::plot::{self, PlotOptions};

use crate::output;

/// Writes `positions_NNNNN.csv` (and `frame_NNNNN.png`) into `dir` every `every` iterations.
pub struct Snapshots<'a> {
    pub every: usize,
    pub dir: &'a Path,
    /// The plot of each frame, when one is drawn.
    pub plot: Option<PlotOptions>,
    pub labels: Option<&'a [String]>,
    /// The first failure, which stops the run.
    pub error: Option<anyhow::Error>,
}

impl Snapshots<'_> {
    /// Writes the snapshot of `p`; a failure is kept and stops the run.
    pub fn take(&mut self, p: &Progress<'_>) -> ControlFlow<()> {
        if p.iteration % self.every != 0 {
            return ControlFlow::Continue(());
        }
        match self.write(p) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn write(&self, p: &Progress<'_>) -> Result<()> {
        let y = p.positions();
        let csv = self.dir.join(format!("positions_{:05}.csv", p.iteration));
        let mut staged = output::Staged::default();
        staged.stage(&csv, |tmp| output::write_embedding(&csv, tmp, &y))?;
        if let Some(options) = &self.plot {
            let png = self.dir.join(format!("frame_{:05}.png", p.iteration));
            let title = format!("{} (iteration {})", options.title, p.iteration);
            let options = PlotOptions { title, ..options.clone() };
            staged.stage(&png, |tmp| plot::scatter(tmp, &y, self.labels, &options))?;
        }
        staged.commit()
    }
}
