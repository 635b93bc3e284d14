//! Scatter plots of 2-D embeddings, coloured by label, with a legend; log-log line charts of
//! run time against size for the benchmark report.

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

/// A tick label as one writes it: `1k`, `10k`, `1M`, `0.5`, `20` (no spurious decimals).
pub fn short_number(v: f64) -> String {
    let plain = |x: f64| {
        let s = format!("{x:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".to_string()
        } else {
            s.to_string()
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", plain(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", plain(v / 1e3))
    } else {
        plain(v)
    }
}

/// One line of a [`loglog`] chart: a name and its `(x, y)` points.
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points with positive coordinates.
    pub points: Vec<(f64, f64)>,
}

/// Draws `series` on log-log axes into a PNG at `path`.
pub fn loglog(path: &Path, series: &[Series], title: &str, x_label: &str, y_label: &str) -> Result<()> {
    let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    if all().next().is_none() || all().any(|(x, y)| !(x > 0.0 && y > 0.0)) {
        bail!("a log-log chart needs at least one point and positive coordinates");
    }
    let (x0, x1) = all().fold((f64::INFINITY, 0.0f64), |(a, b), (x, _)| (a.min(x), b.max(x)));
    let (y0, y1) = all().fold((f64::INFINITY, 0.0f64), |(a, b), (_, y)| (a.min(y), b.max(y)));
    let root = BitMapBackend::new(path, (900, 650)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("plotting failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((x0 / 1.5..x1 * 1.5).log_scale(), (y0 / 1.5..y1 * 1.5).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| short_number(*v))
        .y_label_formatter(&|v| short_number(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(i, series.len());
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled()))).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::short_number;

    #[test]
    fn tick_labels_read_as_written_by_hand() {
        let labels: Vec<String> = [1000.0, 10_000.0, 100_000.0, 1e6, 2.5e6, 0.5, 20.0, 3.0, 0.25, 1500.0]
            .iter()
            .map(|&v| short_number(v))
            .collect();
        assert_eq!(labels, ["1k", "10k", "100k", "1M", "2.5M", "0.5", "20", "3", "0.25", "1.5k"]);
    }
}
