//! The phases of a fit, announced to a listener ([`TSneBuilder::on_phase`](crate::TSneBuilder::on_phase))
//! as each starts and ends, so that a front end can name what is running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tsne_core::{Matrix, Result};

/// A phase of [`TSne::fit`](crate::TSne::fit), in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Input checks and the PCA projection, when asked for.
    Preprocessing,
    /// The nearest-neighbour search (or the all-pairs distances of the dense path).
    Neighbors,
    /// The affinities P.
    Affinities,
    /// The starting positions.
    Initialization,
    /// The gradient descent; its iterations go to the fit's callback.
    Optimization,
}

impl Phase {
    /// A lower-case name, e.g. `neighbors`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Preprocessing => "preprocessing",
            Self::Neighbors => "neighbors",
            Self::Affinities => "affinities",
            Self::Initialization => "initialization",
            Self::Optimization => "optimization",
        }
    }
}

/// What a stage listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseEvent {
    /// The stage begins.
    Started(Phase),
    /// The stage ended successfully after this long.
    Finished(Phase, Duration),
}

/// A function told of every [`PhaseEvent`] by the fit, one event at a time.
pub type PhaseListener = Arc<dyn Fn(PhaseEvent) + Send + Sync>;

/// A function shown the starting positions of a fit, in input order.
pub type StartListener = Arc<dyn Fn(&Matrix) + Send + Sync>;

/// Runs `f` as `phase`, telling `listener` when it starts and when it ends well.
pub(crate) fn announce<T>(
    listener: &Option<PhaseListener>,
    phase: Phase,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(listener) = listener else { return f() };
    listener(PhaseEvent::Started(phase));
    let t = Instant::now();
    let out = f()?;
    listener(PhaseEvent::Finished(phase, t.elapsed()));
    Ok(out)
}
