//! The memory guard: before a stage makes its large allocations, its estimate is checked
//! against the user's limit ([`TSneBuilder::max_memory`](crate::TSneBuilder::max_memory)) and
//! the memory the machine has available, so an impossible request fails at once with an error
//! that names the stage and what would fit, instead of swapping or being killed.

use tsne_core::{Error, Result};

/// What a fit may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Budget {
    /// The user's limit in bytes, if any.
    limit: Option<u64>,
}

impl Budget {
    pub fn new(limit: Option<u64>) -> Self {
        Self { limit }
    }

    /// The bytes a stage may use: the smaller of the user's limit and the available memory.
    pub fn allowed(&self) -> Option<(u64, &'static str)> {
        let machine = available_memory().map(|m| (m, "available on this machine"));
        match (self.limit.map(|l| (l, "allowed by `max_memory`")), machine) {
            (Some(l), Some(m)) => Some(if l.0 <= m.0 { l } else { m }),
            (l, m) => l.or(m),
        }
    }

    /// Fails when `stage` needs more than allowed; `hint` says what would fit.
    pub fn check(&self, stage: &'static str, needed: u64, hint: impl FnOnce() -> String) -> Result<()> {
        match self.allowed() {
            Some((allowed, bound)) if needed > allowed => {
                Err(Error::MemoryLimit { stage, needed, allowed, bound, hint: hint() })
            }
            _ => Ok(()),
        }
    }
}

/// The memory the system can give without swapping (`MemAvailable` on Linux); `None` where
/// it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The peak resident memory of this process so far (`VmHWM` on Linux), in bytes.
pub fn peak_resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Estimates, in bytes, of the large allocations of each stage.
pub(crate) mod estimate {
    /// A kNN graph of `n x k` (u32 index, f64 distance), twice: the search's lists and the graph.
    pub fn neighbors(n: usize, k: usize) -> u64 {
        2 * n as u64 * k as u64 * 12
    }

    /// The affinity stage beyond the kNN graph (12 bytes an edge): at its peak, the
    /// symmetrisation, the conditional P (u32 column, f32 value), the joint P (up to `2 n k`
    /// entries) and one block of the transpose (at most an eighth of P, 8 bytes an entry)
    /// alive together, less the graph, which is gone by then unless its owner keeps it
    /// (`graph_kept`). The renumbered copy of the joint P is checked when its size is known.
    pub fn affinities(n: usize, k: usize, graph_kept: bool) -> u64 {
        let nk = n as u64 * k as u64;
        let peak = nk * 8 + 2 * nk * 8 + nk;
        if graph_kept {
            peak
        } else {
            peak.saturating_sub(nk * 12)
        }
    }

    /// The renumbering of a joint P of `nnz` entries: one array of it is copied at a time.
    pub fn renumbering(nnz: usize) -> u64 {
        nnz as u64 * 4
    }

    /// The `d x d` covariance partials of PCA (up to 16) or the `n x n` Gram matrix.
    pub fn pca(n: usize, d: usize) -> u64 {
        let (n, d) = (n as u64, d as u64);
        if n < d {
            3 * n * n * 8 + n * d * 8
        } else {
            (16 + 3) * d * d * 8
        }
    }

    /// The dense SNE-family path: the input, the kernel and scratch `n x n` matrices.
    pub fn dense(n: usize) -> u64 {
        4 * n as u64 * n as u64 * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_above_the_limit_fails_with_the_stage_and_the_hint() {
        let budget = Budget::new(Some(1_000_000));
        assert!(budget.check("kNN graph", 999_999, String::new).is_ok());
        let err = budget.check("kNN graph", 2_000_000, || "use fewer neighbours".into()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("kNN graph") && text.contains("2 MB") && text.contains("use fewer neighbours"),
            "{text}"
        );
        // Without a limit only the machine bounds it.
        assert!(Budget::new(None).check("x", 1, String::new).is_ok());
        assert_eq!(tsne_core::human_bytes(1_500_000_000), "1.5 GB");
    }
}
