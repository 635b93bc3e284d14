//! The dense SNE-family path takes no setting it would ignore or overwrite: each is used or
//! refused by `build()`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use tsne::backends::affinity::Uniform;
use tsne::{Error, Init, Matrix, Method, NeighborMethod, NnDescentParams, TSne};

fn points() -> Matrix {
    let data: Vec<f64> = (0..60 * 3).map(|i| ((i * 37 % 101) as f64 * 0.13).sin() + (i % 3) as f64).collect();
    Matrix::new(60, 3, data).unwrap()
}

fn unsupported(builder: tsne::TSneBuilder, needle: &str) {
    match builder.build() {
        Err(e @ Error::Unsupported { .. }) => assert!(e.to_string().contains(needle), "{e}"),
        Err(e) => panic!("expected Unsupported naming {needle}, got {e}"),
        Ok(_) => panic!("accepted a setting the dense path would ignore: {needle}"),
    }
}

#[test]
fn settings_the_dense_path_cannot_use_are_refused() {
    let ssne = || TSne::builder().method(Method::ssne()).perplexity(10.0);
    unsupported(ssne().affinity(Uniform::new(5).unwrap()), "custom affinity");
    unsupported(ssne().neighbors(NeighborMethod::NnDescent(NnDescentParams::default())), "neighbour search");
    unsupported(ssne().init(Init::Spectral), "Spectral");
    unsupported(TSne::builder().method(Method::sammon()).init(Init::Random), "`Init::Pca`");
    // Exaggeration is a device of KL(P||Q): refused for a stress when asked for.
    match TSne::builder().method(Method::mds()).early_exaggeration(12.0).build() {
        Err(Error::InvalidParameter { name: "early_exaggeration", .. }) => {}
        other => panic!("expected an early_exaggeration error, got {:?}", other.err()),
    }
    assert!(ssne().early_exaggeration(4.0).build().is_ok());
}

#[test]
fn a_stress_runs_unexaggerated_and_reports_the_rate_it_ran_at() {
    let x = points();
    let fit = TSne::builder().method(Method::mds()).iterations(50).build().unwrap().fit(&x).unwrap();
    // `auto` is max(n / exaggeration, 50) with no exaggeration: n.
    assert_eq!(fit.summary().learning_rate, x.rows() as f64);
    let explicit = TSne::builder()
        .method(Method::mds())
        .iterations(50)
        .early_exaggeration(1.0)
        .build()
        .unwrap()
        .fit(&x)
        .unwrap();
    assert_eq!(fit.positions(), explicit.positions());
}
