//! Numbered snapshots of the positions during a fit, for animations: the start (iteration 0,
//! from the fit's start listener) and every `every`-th iteration; with `--plot`, a PNG frame
//! of each, drawn after the fit from the positions files in the eased views of `--animate`.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;
use tsne::{Matrix, Progress};
use tsne_cli::animate::{Extent, PngFrames};
use tsne_cli::plot::PlotOptions;

use crate::{input, output};

/// Writes `positions_NNNNN.csv` into `dir` during the fit, and `frame_NNNNN.png` after it
/// ([`Snapshots::draw_frames`]).
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
    /// Writes the starting positions as iteration 0, once the frames are known to be
    /// drawable; a failure is kept and stops the run at its first iteration.
    pub fn start(&self, y: &Matrix) {
        let drawable = match &self.plot {
            Some(options) => PngFrames::new(options, self.labels.as_deref(), &[Extent::of(y)]).map(drop),
            None => Ok(()),
        };
        if let Err(e) = drawable.and_then(|()| self.write(0, y)) {
            self.keep(e);
        }
    }

    /// With `--plot`, draws `frame_NNNNN.png` of every snapshot of a run of `iterations`
    /// (0 and each multiple of `every` up to it) from its positions file, in the views
    /// `--animate` would use: a first pass reads each file's extent, a second draws them one
    /// at a time. The frames are renamed into place all together, or none is.
    pub fn draw_frames(&self, iterations: usize) -> Result<()> {
        let Some(options) = &self.plot else { return Ok(()) };
        let done: Vec<usize> = (0..=iterations).step_by(self.every).collect();
        let positions = |it: usize| input::read_points(&self.dir.join(format!("positions_{it:05}.csv")));
        let extents = done.iter().map(|&it| Ok(Extent::of(&positions(it)?))).collect::<Result<Vec<_>>>()?;
        let frames = PngFrames::new(options, self.labels.as_deref(), &extents)?;
        let mut staged = output::Staged::default();
        for (k, &it) in done.iter().enumerate() {
            let y = positions(it)?;
            let png = self.dir.join(format!("frame_{it:05}.png"));
            staged.stage(&png, |tmp| frames.write(tmp, k, it, &y))?;
        }
        staged.commit()
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
        staged.commit()
    }
}
