//! The frames of `--animate`, captured while a fit runs: iteration 0 from the start listener,
//! the others from the iteration callback, at the iterations `frame_iterations` picks.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use tsne::{Matrix, Progress};
use tsne_cli::animate::{frame_iterations, Frame};

/// Frames captured so far, and which iterations are still wanted.
pub struct Recording {
    wanted: Vec<usize>,
    next: usize,
    frames: Arc<Mutex<Vec<Frame>>>,
    error: Arc<Mutex<Option<anyhow::Error>>>,
}

impl Recording {
    /// A recording of about `frames` frames of a run of `iterations`.
    pub fn new(iterations: usize, frames: usize) -> Self {
        let wanted = frame_iterations(iterations, frames);
        let next = usize::from(wanted.first() == Some(&0));
        Self { wanted, next, frames: Arc::default(), error: Arc::default() }
    }

    /// The fit's start listener: records iteration 0.
    pub fn start_listener(&self) -> impl Fn(&Matrix) + Send + Sync + 'static {
        let (frames, error) = (Arc::clone(&self.frames), Arc::clone(&self.error));
        move |y| match Frame::from_matrix(0, y) {
            Ok(frame) => lock(&frames).push(frame),
            Err(e) => *lock(&error) = Some(e),
        }
    }

    /// Records `p` when its iteration is wanted.
    pub fn take(&mut self, p: &Progress<'_>) {
        if self.wanted.get(self.next) != Some(&p.iteration) {
            return;
        }
        self.next += 1;
        match Frame::from_progress(p) {
            Ok(frame) => lock(&self.frames).push(frame),
            Err(e) => *lock(&self.error) = Some(e),
        }
    }

    /// The frames in order of iteration, or the first failure to capture one.
    pub fn frames(self) -> Result<Vec<Frame>> {
        if let Some(e) = lock(&self.error).take() {
            return Err(e);
        }
        let mut frames = std::mem::take(&mut *lock(&self.frames));
        frames.sort_by_key(|f| f.iteration);
        Ok(frames)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while it was held leaves only captured frames behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
