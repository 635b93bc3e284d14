//! The fitted model: continuation, callbacks that stop, pinned points, schedules, save and
//! load, and adding points.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::ops::ControlFlow;

use tsne::backends::core::{InitInput, Initializer};
use tsne::backends::init::Random;
use tsne::{
    every, metrics::knn_accuracy, Embedding, Init, LearningRate, Matrix, NeighborMethod, NnDescentParams,
    PlacementRepulsion, Schedule, Stop, TSne, TSneBuilder,
};

fn builder() -> TSneBuilder {
    TSne::builder().seed(11)
}

/// The final phase of the default schedule, continued with the fit's learning rate.
fn final_phase(iterations: usize, fit: &Embedding) -> Schedule {
    Schedule {
        learning_rate: LearningRate::Fixed(fit.summary().learning_rate),
        ..Schedule::constant(iterations, 1.0, 0.8)
    }
}

#[test]
fn fit_then_optimize_in_pieces_equals_one_fit() {
    let (x, _) = common::digits();
    let whole = builder().build().unwrap().fit(&x).unwrap();
    assert_eq!(whole.summary().iterations, 1000);
    assert_eq!(whole.summary().stop, Stop::Completed);
    let stages: Vec<_> =
        whole.summary().stages.iter().map(|s| (s.iterations, s.exaggeration, s.momentum)).collect();
    assert_eq!(stages, vec![(250, 12.0, 0.5), (750, 1.0, 0.8)]);

    // The early phase as a fit, then the final phase in two continuations.
    let mut pieces = builder().iterations(250).build().unwrap().fit(&x).unwrap();
    pieces.optimize(&final_phase(400, &pieces)).unwrap();
    let report = pieces.optimize(&final_phase(350, &pieces)).unwrap();
    assert_eq!(report.iterations, 350);
    assert_eq!(pieces.positions(), whole.positions());
    assert_eq!(pieces.summary().kl_divergence.to_bits(), whole.summary().kl_divergence.to_bits());
    assert_eq!(pieces.summary().iterations, 1000);
    assert_eq!(pieces.summary().stages, whole.summary().stages);
}

#[test]
fn a_callback_that_stops_leaves_a_model_that_continues_to_the_same_bits() {
    let (x, _) = common::digits();
    let x = Matrix::new(600, 64, x.as_slice()[..600 * 64].to_vec()).unwrap();
    let tsne = builder().iterations(500).build().unwrap();
    let whole = tsne.fit(&x).unwrap();
    let mut seen = Vec::new();
    let mut stopped = tsne
        .fit_with(
            &x,
            every(100, |p| {
                seen.push((p.iteration, p.positions().rows()));
                if p.iteration == 300 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }),
        )
        .unwrap();
    assert_eq!(seen, vec![(100, 600), (200, 600), (300, 600)]);
    assert_eq!(stopped.summary().stop, Stop::Callback);
    assert_eq!(stopped.summary().iterations, 300);
    stopped.optimize(&final_phase(200, &stopped)).unwrap();
    assert_eq!(stopped.positions(), whole.positions());
}

#[test]
fn the_callback_sees_positions_in_input_order() {
    let (x, _) = common::digits();
    let x = Matrix::new(300, 64, x.as_slice()[..300 * 64].to_vec()).unwrap();
    let tsne = builder().iterations(40).exaggeration_iterations(20).build().unwrap();
    let mut last = None;
    let model = tsne
        .fit_with(&x, |p| {
            assert!(p.gradient_norm.is_finite());
            assert_eq!(p.position(7), p.positions().row(7));
            last = Some(p.positions());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(last.unwrap(), model.positions());
}

#[test]
fn a_per_iteration_schedule_reproduces_the_two_phases() {
    let (x, _) = common::digits();
    let x = Matrix::new(400, 64, x.as_slice()[..400 * 64].to_vec()).unwrap();
    let two_phases = builder().iterations(300).exaggeration_iterations(100).build().unwrap().fit(&x).unwrap();
    let schedule = Schedule {
        early_exaggeration: 12.0,
        ..Schedule::per_iteration(300, |it| if it < 100 { (12.0, 0.5) } else { (1.0, 0.8) })
    };
    let function = builder().schedule(schedule).build().unwrap().fit(&x).unwrap();
    assert_eq!(function.positions(), two_phases.positions());
    assert_eq!(function.summary().stages, two_phases.summary().stages);
}

#[test]
fn pinned_points_do_not_move_and_the_others_settle() {
    let (x, labels) = common::digits();
    let free = builder().build().unwrap().fit(&x).unwrap();
    // Every other point pinned where the free run put it (a fixed half of the map); each
    // other point starts, with a little noise, at the median position of the five pinned
    // points nearest to it in the input space (as new points start in a transform).
    let pinned: Vec<usize> = (0..x.rows()).step_by(2).collect();
    let reference = free.positions();
    let input = InitInput { n: x.rows(), points: None, affinities: None };
    let mut start = Random::default().initialize(&input, 2, 5).unwrap();
    for i in (0..x.rows()).filter(|i| i % 2 != 0) {
        let d = |j: usize| x.row(i).iter().zip(x.row(j)).map(|(u, v)| (u - v) * (u - v)).sum::<f64>();
        let mut near = pinned.clone();
        near.sort_by(|&a, &b| d(a).total_cmp(&d(b)));
        for c in 0..2 {
            let mut coord: Vec<f64> = near[..5].iter().map(|&j| reference.row(j)[c]).collect();
            coord.sort_by(f64::total_cmp);
            start.row_mut(i)[c] += coord[2];
        }
    }
    for &i in &pinned {
        start.row_mut(i).copy_from_slice(reference.row(i));
    }
    let model =
        builder().init(Init::Given(start.clone())).pin(pinned.clone()).build().unwrap().fit(&x).unwrap();
    let unpinned = builder().init(Init::Given(start.clone())).build().unwrap().fit(&x).unwrap();
    let y = model.positions();
    for &i in &pinned {
        assert_eq!(y.row(i), start.row(i), "pinned point {i} moved");
    }
    assert_eq!(model.summary().pinned, pinned.len());
    let kl_pinned = model.summary().kl_divergence;
    let (kl_same_start, kl_free) = (unpinned.summary().kl_divergence, free.summary().kl_divergence);
    eprintln!(
        "KL pinned {kl_pinned:.4}, unpinned from the same start {kl_same_start:.4}, free run {kl_free:.4}"
    );
    assert!(kl_pinned <= 1.02 * kl_free, "KL {kl_pinned} against the free run's {kl_free}");
    assert!(kl_pinned <= 1.02 * kl_same_start, "KL {kl_pinned} against {kl_same_start} from the same start");
    assert!(knn_accuracy(&y, &labels, 10).unwrap() > 0.95);
    // Pins are validated.
    assert!(builder().pin(vec![x.rows()]).build().unwrap().fit(&x).is_err());
}

#[test]
fn save_load_transform_equals_the_in_memory_model() {
    let (x, _) = common::digits();
    let (train, test): (Vec<usize>, Vec<usize>) = (0..x.rows()).partition(|i| i % 5 != 0);
    let rows = |idx: &[usize]| {
        Matrix::from_rows(&idx.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    // Borrowed, so that the model keeps its reference points for `transform`.
    let reference = rows(&train);
    let model = builder().iterations(300).pca(30).build().unwrap().fit(&reference).unwrap();
    let dir = std::env::temp_dir().join(format!("tsne-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("digits.tsne");
    model.save(&path).unwrap();
    let mut loaded = Embedding::load(&path).unwrap();
    assert_eq!(loaded.positions(), model.positions());
    assert_eq!(loaded.transform(&rows(&test)).unwrap(), model.transform(&rows(&test)).unwrap());
    // The loaded model also continues like the original.
    let mut original = model.clone();
    original.optimize(&Schedule::constant(20, 1.0, 0.8)).unwrap();
    loaded.optimize(&Schedule::constant(20, 1.0, 0.8)).unwrap();
    assert_eq!(loaded.positions(), original.positions());

    std::fs::write(dir.join("not.tsne"), b"0.5,1.5\n").unwrap();
    assert!(matches!(Embedding::load(dir.join("not.tsne")), Err(tsne::Error::NotAModel { .. })));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(dir.join("short.tsne"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(Embedding::load(dir.join("short.tsne")), Err(tsne::Error::CorruptModel { .. })));
    let mut other = bytes.clone();
    let future = tsne::FORMAT_VERSION + 1;
    other[8..12].copy_from_slice(&future.to_le_bytes());
    std::fs::write(dir.join("future.tsne"), &other).unwrap();
    let err = Embedding::load(dir.join("future.tsne")).unwrap_err();
    assert!(matches!(err, tsne::Error::ModelVersion { found, .. } if found == future), "{err}");
    assert!(matches!(Embedding::load(dir.join("missing.tsne")), Err(tsne::Error::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn added_points_settle_while_the_old_ones_stay() {
    let (x, labels) = common::digits();
    let (train, test): (Vec<usize>, Vec<usize>) = (0..x.rows()).partition(|i| i % 6 != 0);
    let rows = |idx: &[usize]| {
        Matrix::from_rows(&idx.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    // Borrowed, so that the model keeps its reference points for `transform`.
    let reference = rows(&train);
    let mut model = builder().build().unwrap().fit(&reference).unwrap();
    let before = model.positions();
    let n = train.len();
    model.add(&rows(&test), &Schedule::constant(100, 1.0, 0.8)).unwrap();
    let after = model.positions();
    assert_eq!(after.rows(), x.rows());
    assert_eq!(Matrix::new(n, 2, after.as_slice()[..2 * n].to_vec()).unwrap(), before);
    let all_labels: Vec<u8> = train.iter().chain(&test).map(|&i| labels[i]).collect();
    let acc = knn_accuracy(&after, &all_labels, 10).unwrap();
    assert!(acc > 0.95, "10-NN accuracy after add {acc}");
}

/// `add` computes the grown set's P by the fit's own stages, also after a save and load: a
/// coarse NN-descent, whose neighbours depend on the seed, run at the fit's seed.
#[test]
fn added_points_are_joined_by_the_fits_own_stages() {
    let (x, _) = common::digits();
    let n = 1500;
    let split = |rows: std::ops::Range<usize>| {
        Matrix::new(rows.len(), 64, x.as_slice()[rows.start * 64..rows.end * 64].to_vec()).unwrap()
    };
    let coarse = NeighborMethod::NnDescent(NnDescentParams {
        trees: Some(1),
        max_rounds: Some(1),
        max_candidates: Some(4),
        ..NnDescentParams::default()
    });
    let stages = |seed| {
        TSne::builder()
            .seed(seed)
            .perplexity(10.0)
            .neighbors(coarse.clone())
            .iterations(40)
            .exaggeration_iterations(20)
            .build()
            .unwrap()
    };
    let want = stages(7).affinity_matrix(&x).unwrap();
    assert_ne!(want, stages(0).affinity_matrix(&x).unwrap(), "this search must depend on the seed");
    // Borrowed, so that the model keeps its reference points.
    let head = split(0..n);
    let mut model = stages(7).fit(&head).unwrap();
    let dir = std::env::temp_dir().join(format!("tsne-add-stages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    model.save(dir.join("m.tsne")).unwrap();
    let mut loaded = Embedding::load(dir.join("m.tsne")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for model in [&mut model, &mut loaded] {
        model.add(&split(n..x.rows()), &Schedule::constant(5, 1.0, 0.8)).unwrap();
        assert!(model.affinities().unwrap().unwrap() == want);
    }
}

#[test]
fn fft_and_exact_continuations_equal_one_run() {
    let (x, _) = common::digits();
    let x = Matrix::new(800, 64, x.as_slice()[..800 * 64].to_vec()).unwrap();
    for method in [tsne::RepulsionMethod::fft(), tsne::RepulsionMethod::Exact] {
        let tsne = |iterations| builder().repulsion(method.clone()).iterations(iterations).build().unwrap();
        let whole = tsne(300).fit(&x).unwrap();
        let mut pieces = tsne(250).fit(&x).unwrap();
        pieces.optimize(&final_phase(20, &pieces)).unwrap();
        pieces.optimize(&final_phase(30, &pieces)).unwrap();
        assert_eq!(pieces.positions(), whole.positions(), "{method:?}");
    }
}

/// A continuation at its defaults keeps a finished map: `auto` continues at the fit's rate,
/// so 1000 + 250 iterations are the bits of a 1250-iteration fit; a rate twelve times the
/// fit's (the `n / exaggeration` rule's) starts from fresh gains and keeps the neighbourhoods
/// instead of tearing the map apart; late exaggeration keeps them and makes the map no wider.
#[test]
fn continuations_at_their_defaults_keep_a_finished_map() {
    let (x, labels) = common::digits();
    let fit = builder().build().unwrap().fit(&x).unwrap();
    let longer = builder().iterations(1250).build().unwrap().fit(&x).unwrap();
    let mut continued = fit.clone();
    continued.optimize(&Schedule::constant(250, 1.0, 0.8)).unwrap();
    assert_eq!(continued.positions(), longer.positions());
    assert_eq!(continued.summary().learning_rate, fit.summary().learning_rate);

    let accuracy = |m: &Embedding| knn_accuracy(&m.positions(), &labels, 10).unwrap();
    let width = |m: &Embedding| {
        let y = m.positions();
        let xs = (0..y.rows()).map(|i| y.row(i)[0]);
        xs.clone().fold(f64::NEG_INFINITY, f64::max) - xs.fold(f64::INFINITY, f64::min)
    };
    let base = accuracy(&fit);
    let mut faster = fit.clone();
    let n = x.rows() as f64;
    faster
        .optimize(&Schedule { learning_rate: LearningRate::Fixed(n), ..Schedule::constant(250, 1.0, 0.8) })
        .unwrap();
    assert!(accuracy(&faster) >= base - 0.01, "rate n: {} vs {base}", accuracy(&faster));
    assert!(faster.summary().kl_divergence <= 1.01 * longer.summary().kl_divergence);
    let mut tighter = fit.clone();
    tighter.optimize(&Schedule::constant(250, 1.5, 0.8)).unwrap();
    assert!(accuracy(&tighter) >= base - 0.01, "exaggeration 1.5: {} vs {base}", accuracy(&tighter));
    assert!(
        width(&tighter) <= width(&fit),
        "exaggeration 1.5 widened the map: {} > {}",
        width(&tighter),
        width(&fit)
    );
}

/// The model's parts can be read and replaced without disturbing a continuation: positions
/// set to themselves and P set to the same affinities continue as before; the optimiser's
/// gains are read in input order; prepared new points placed at given positions start there,
/// and given affinities are checked against the model.
#[test]
fn positions_affinities_and_optimizer_state_round_trip() {
    let (x, _) = common::digits();
    let x = Matrix::new(500, x.cols(), x.as_slice()[..500 * x.cols()].to_vec()).unwrap();
    let tsne = builder().iterations(300).build().unwrap();
    let fit = tsne.fit(&x).unwrap();
    let schedule = final_phase(20, &fit);
    let mut plain = fit.clone();
    plain.optimize(&schedule).unwrap();

    let mut same = fit.clone();
    same.set_positions(&fit.positions()).unwrap();
    same.optimize(&schedule).unwrap();
    assert_eq!(same.positions(), plain.positions());

    let mut reset_p = fit.clone();
    reset_p.set_affinities(tsne.affinity_matrix(&x).unwrap()).unwrap();
    reset_p.optimize(&schedule).unwrap();
    let diff = |a: &Matrix, b: &Matrix| {
        a.as_slice().iter().zip(b.as_slice()).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max)
    };
    assert!(diff(&reset_p.positions(), &plain.positions()) < 1e-6);

    let (gains, update) = fit.optimizer_state().unwrap();
    assert_eq!((gains.rows(), gains.cols(), update.rows()), (500, 2, 500));
    assert!(gains.as_slice().iter().any(|&g| g != 1.0), "300 iterations left every gain at 1");
    let mut reset = fit.clone();
    reset.reset_optimizer();
    let (gains, update) = reset.optimizer_state().unwrap();
    assert!(gains.as_slice().iter().all(|&g| g == 1.0) && update.as_slice().iter().all(|&u| u == 0.0));
    reset.optimize(&schedule).unwrap();
    assert_ne!(reset.positions(), plain.positions(), "the reset changed nothing");
    assert!(fit.clone().set_positions(&Matrix::new(3, 2, vec![0.0; 6]).unwrap()).is_err());

    let new = Matrix::new(20, x.cols(), x.as_slice()[..20 * x.cols()].to_vec()).unwrap();
    let mut partial = fit.prepare_partial(&new, &tsne::Transform::default()).unwrap();
    let start = Matrix::new(20, 2, (0..40).map(|v| v as f64 * 0.1).collect()).unwrap();
    partial.set_positions(start.clone()).unwrap();
    assert_eq!(partial.positions(), &start);
    let a = partial.affinities().clone();
    let given =
        fit.prepare_partial_from_affinities(a.clone(), start.clone(), PlacementRepulsion::default()).unwrap();
    assert_eq!(given.affinities(), &a);
    assert!(fit
        .prepare_partial_from_affinities(
            a,
            Matrix::new(3, 2, vec![0.0; 6]).unwrap(),
            PlacementRepulsion::default()
        )
        .is_err());
    let rows = tsne::PointAffinities::from_rows(vec![0, 2], vec![0, 9999], vec![1.0, 1.0], 500);
    assert!(rows.is_err(), "a reference index past the model must be refused");
}
