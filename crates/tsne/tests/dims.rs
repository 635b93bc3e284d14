//! Which output dimensions each repulsion method embeds in is one rule: `supports` says it,
//! and `build()` accepts exactly those.

use tsne::{RepulsionMethod, TSne};

#[test]
fn build_accepts_exactly_the_supported_dimensions() {
    let methods = [
        (RepulsionMethod::Auto, 16),
        (RepulsionMethod::Exact, 16),
        (RepulsionMethod::barnes_hut(), 3),
        (RepulsionMethod::fft(), 2),
        (RepulsionMethod::custom(tsne::backends::repulsion::BarnesHut::new(0.5).expect("theta")), 3),
    ];
    for (method, most) in methods {
        for dims in 1..=16 {
            let supported = method.supports(dims);
            assert_eq!(supported, dims <= most, "{method:?} in {dims}-D");
            let built = TSne::builder().dims(dims).repulsion(method.clone()).build();
            assert_eq!(built.is_ok(), supported, "{method:?} in {dims}-D");
        }
    }
}
