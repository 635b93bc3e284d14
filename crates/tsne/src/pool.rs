//! Worker threads: a configuration's or a model's own rayon pool, or the global one. Results
//! never depend on the pool (every parallel loop is order-independent).

use rayon::ThreadPool;
use tsne_core::{Error, Result};

/// A pool of `threads` workers; none for `None` (rayon's global pool).
pub(crate) fn build(threads: Option<usize>) -> Result<Option<ThreadPool>> {
    threads
        .map(|t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::InvalidParameter { name: "threads", reason: e.to_string() })
        })
        .transpose()
}

/// Runs `f` in `pool` (rayon's global pool for none).
pub(crate) fn install<T: Send>(pool: Option<&ThreadPool>, f: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Runs `f` in a new pool of `threads` workers (the global pool for `None`).
pub(crate) fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    Ok(install(build(threads)?.as_ref(), f))
}
