//! Scatter plots of 2-D embeddings, coloured by label, with a legend.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use tsne::Matrix;

static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Ten distinguishable colours (the Tableau 10 palette); more labels fall back to Palette99.
const TABLEAU: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize, classes: usize) -> RGBAColor {
    if classes <= TABLEAU.len() {
        TABLEAU[i].to_rgba()
    } else {
        Palette99::pick(i).to_rgba()
    }
}

/// Draws the first two coordinates of `y` into a PNG at `path`.
pub fn scatter(path: &Path, y: &Matrix, labels: Option<&[String]>, title: &str) -> Result<()> {
    if y.cols() < 2 {
        bail!("a scatter plot needs a 2-D embedding, this one has {} dimension(s)", y.cols());
    }
    // A second registration of the same font is harmless.
    let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    let mut classes: Vec<&str> = labels.map(|l| l.iter().map(String::as_str).collect()).unwrap_or_default();
    classes.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    classes.dedup();
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for i in 0..y.rows() {
        for c in 0..2 {
            lo[c] = lo[c].min(y.row(i)[c]);
            hi[c] = hi[c].max(y.row(i)[c]);
        }
    }
    let pad = |c: usize| 0.05 * (hi[c] - lo[c]).max(1e-12);
    let root = BitMapBackend::new(path, (1000, 900)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("plotting failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(lo[0] - pad(0)..hi[0] + pad(0), lo[1] - pad(1)..hi[1] + pad(1))
        .map_err(err)?;
    chart.configure_mesh().disable_mesh().label_style(("sans-serif", 14)).draw().map_err(err)?;
    let size = if y.rows() > 20_000 { 1 } else { 3 };
    if classes.is_empty() {
        chart
            .draw_series(
                (0..y.rows()).map(|i| Circle::new((y.row(i)[0], y.row(i)[1]), size, colour(0, 1).filled())),
            )
            .map_err(err)?;
    } else {
        let labels = labels.unwrap();
        for (ci, class) in classes.iter().enumerate() {
            let c = colour(ci, classes.len());
            chart
                .draw_series(
                    (0..y.rows())
                        .filter(|&i| labels[i] == *class)
                        .map(|i| Circle::new((y.row(i)[0], y.row(i)[1]), size, c.filled())),
                )
                .map_err(err)?
                .label(class.to_string())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
