//! The progress bar of an optimisation, shown only on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use tsne::Progress;

/// A bar of `iterations` steps on stderr, or nothing when stderr is not a terminal.
pub fn bar(iterations: usize) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(iterations as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
        {
            bar.set_style(style);
        }
        bar
    })
}

/// Moves the bar to `p`'s iteration, with the KL divergence when `p` has one.
pub fn show(bar: &Option<ProgressBar>, p: &Progress<'_>) {
    if let Some(bar) = bar {
        bar.set_position(p.iteration as u64);
        if let Some(kl) = p.kl_divergence {
            bar.set_message(format!("KL {kl:.4}"));
        }
    }
}

/// Removes the bar.
pub fn finish(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
