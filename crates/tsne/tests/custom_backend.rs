//! A user-written backend plugs in through the `Repulsion` trait.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tsne::backends::core::Repulsion;
use tsne::backends::repulsion::Exact;
use tsne::{Matrix, Result, StudentT, TSne};

/// Delegates to the exact backend and counts the calls.
struct Counting {
    inner: Exact,
    calls: Arc<AtomicUsize>,
}

impl Repulsion for Counting {
    fn repulsion(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> Result<f64> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.repulsion(y, kernel, forces)
    }
    fn is_exact(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        "counting"
    }
}

#[test]
fn user_repulsion_is_called_and_matches_builtin() {
    let (x, _) = common::digits();
    let x = Matrix::new(300, 64, x.as_slice()[..300 * 64].to_vec()).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let builder = || TSne::builder().iterations(80).exaggeration_iterations(40).seed(5);
    let custom = builder()
        .repulsion_backend(Counting { inner: Exact::new(), calls: calls.clone() })
        .build()
        .unwrap()
        .fit(&x)
        .unwrap();
    let builtin = builder().build().unwrap().fit(&x).unwrap();
    // One call per iteration and one for the final KL.
    assert_eq!(calls.load(Ordering::Relaxed), 81);
    assert_eq!(custom.summary().repulsion, "counting");
    assert_eq!(custom.positions(), builtin.positions());
}

#[test]
fn invalid_parameters_are_rejected_at_build() {
    use tsne::{Error, LearningRate};
    let err = |b: tsne::TSneBuilder| match b.build() {
        Err(Error::InvalidParameter { name, .. }) => name,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(err(TSne::builder().perplexity(0.5)), "perplexity");
    assert_eq!(err(TSne::builder().perplexity(f64::NAN)), "perplexity");
    assert_eq!(err(TSne::builder().learning_rate(LearningRate::Fixed(0.0))), "learning_rate");
    assert_eq!(err(TSne::builder().momentum(0.5, 1.0)), "momentum_final");
    assert_eq!(err(TSne::builder().dims(0)), "dims");
    assert_eq!(err(TSne::builder().dof(-1.0)), "dof");
    assert_eq!(err(TSne::builder().early_exaggeration(0.0)), "early_exaggeration");
    assert_eq!(err(TSne::builder().threads(0)), "threads");
}

#[test]
fn too_few_points_and_large_perplexity_are_errors() {
    use tsne::Error;
    let one = Matrix::new(1, 3, vec![1.0, 2.0, 3.0]).unwrap();
    assert_eq!(TSne::builder().build().unwrap().fit(&one).unwrap_err(), Error::TooFewPoints { n: 1, min: 2 });
    let ten = Matrix::new(10, 1, (0..10).map(f64::from).collect()).unwrap();
    assert!(matches!(
        TSne::builder().perplexity(9.0).build().unwrap().fit(&ten),
        Err(Error::PerplexityTooLarge { neighbors: 9, n: 10, .. })
    ));
}

#[test]
fn recall_is_measured_for_approximate_neighbours_only() {
    use tsne::{HnswParams, NeighborMethod};
    let (x, _) = common::digits();
    let fit = |method| {
        TSne::builder()
            .neighbors(method)
            .check_recall(300)
            .iterations(10)
            .exaggeration_iterations(5)
            .build()
            .unwrap()
            .fit(&x)
            .unwrap()
    };
    assert_eq!(fit(NeighborMethod::Exact).summary().recall, None);
    let recall = fit(NeighborMethod::Hnsw(HnswParams::default())).summary().recall.unwrap();
    assert!(recall >= 0.98, "HNSW recall {recall}");
}

#[test]
fn build_checks_every_method_auto_can_resolve_to() {
    use tsne::{Error, Metric, NeighborMethod, NnDescentParams, RepulsionMethod};
    // 4-D: auto stays exact (Barnes-Hut handles 1-3 dimensions), so it builds and fits past
    // the Barnes-Hut threshold; an explicit Barnes-Hut or FFT is refused before any work.
    let (x, _) = common::digits();
    let x = Matrix::new(600, 64, x.as_slice()[..600 * 64].to_vec()).unwrap();
    let fit =
        TSne::builder().dims(4).iterations(20).exaggeration_iterations(10).build().unwrap().fit(&x).unwrap();
    assert_eq!((fit.positions().cols(), fit.summary().repulsion.as_str()), (4, "exact"));
    let refused = |b: tsne::TSneBuilder| matches!(b.build(), Err(Error::Unsupported { .. }));
    assert!(refused(TSne::builder().dims(4).repulsion(RepulsionMethod::barnes_hut())));
    assert!(refused(TSne::builder().dims(3).repulsion(RepulsionMethod::fft())));
    // A backend parameter that contradicts the builder is an error, not silently replaced.
    let cosine =
        NeighborMethod::NnDescent(NnDescentParams { metric: Metric::Cosine, ..NnDescentParams::default() });
    assert!(matches!(TSne::builder().neighbors(cosine.clone()).build(), Err(Error::InvalidParameter { .. })));
    assert!(TSne::builder().metric(Metric::Cosine).neighbors(cosine).build().is_ok());
}
