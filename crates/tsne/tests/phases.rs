//! A phase listener hears every phase of a fit once, in order, each start before its end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex};

use tsne::{Matrix, Method, Phase, PhaseEvent, TSne};

fn points() -> Matrix {
    let data: Vec<f64> =
        (0..120 * 3).map(|i| ((i * 37 % 101) as f64 * 0.13).sin() + (i % 3) as f64).collect();
    Matrix::new(120, 3, data).unwrap()
}

fn heard(method: Method) -> Vec<PhaseEvent> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let tsne = TSne::builder()
        .method(method)
        .perplexity(10.0)
        .iterations(60)
        .exaggeration_iterations(20)
        .on_phase(move |e| sink.lock().unwrap().push(e))
        .build()
        .unwrap();
    let x = points();
    let with = tsne.fit(&x).unwrap();
    let without = TSne::builder().method(method).perplexity(10.0).iterations(60).exaggeration_iterations(20);
    // Listening changes nothing.
    assert_eq!(with.positions(), without.build().unwrap().fit(&x).unwrap().positions());
    let events = events.lock().unwrap().clone();
    events
}

fn phases(events: &[PhaseEvent]) -> Vec<Phase> {
    events
        .chunks(2)
        .map(|pair| match pair {
            [PhaseEvent::Started(a), PhaseEvent::Finished(b, _)] if a == b => *a,
            _ => panic!("not a start followed by its end: {pair:?}"),
        })
        .collect()
}

#[test]
fn every_phase_is_announced_in_order() {
    use Phase::*;
    let events = heard(Method::tsne());
    assert_eq!(phases(&events), [Preprocessing, Neighbors, Affinities, Initialization, Optimization]);
    // The dense family path runs the same phases on all pairs.
    for method in [Method::ssne(), Method::mds()] {
        let events = heard(method);
        assert_eq!(phases(&events), [Preprocessing, Neighbors, Affinities, Initialization, Optimization]);
    }
}

#[test]
fn the_start_listener_sees_the_positions_of_iteration_zero() {
    for method in [Method::tsne(), Method::ssne()] {
        let seen = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&seen);
        let builder = || TSne::builder().method(method).perplexity(10.0).seed(7);
        let tsne = builder().iterations(30).on_start(move |y| *sink.lock().unwrap() = Some(y.clone()));
        let x = points();
        tsne.build().unwrap().fit(&x).unwrap();
        let unmoved = builder().iterations(0).build().unwrap().fit(&x).unwrap().positions();
        assert_eq!(seen.lock().unwrap().as_ref(), Some(&unmoved), "{method:?}");
    }
}
