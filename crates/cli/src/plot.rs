//! Pictures of embeddings: scatter maps (PNG or SVG) with equal aspect, hand-written ticks and
//! a legend or colour bar beside the data; log-log line charts of run time against size for
//! the benchmark report.
//!
//! The points of a PNG are drawn straight into the pixel buffer (anti-aliased discs blended
//! over white), so a million points take a fraction of a second; plotters draws the frame,
//! the text and the key on top. An SVG holds one `<circle>` per point (and one per legend
//! entry): exact and editable, but large for big `n`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, bail, Result};
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, FontTransform};
use tsne::Matrix;

static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

pub(crate) use tsne_viewer::colours::Rgb;
use tsne_viewer::colours::{CATEGORICAL, VIRIDIS};

/// Numeric labels with more distinct values than this get a colour map instead of a legend.
pub const MAX_CLASSES: usize = 40;

const INK: RGBColor = RGBColor(30, 30, 30);
const SOFT_INK: RGBColor = RGBColor(80, 80, 80);
const FRAME: RGBColor = RGBColor(150, 150, 150);

/// How [`scatter`] draws: the title, the image size, and optional overrides of the marker.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Drawn centred above the map; empty for none.
    pub title: String,
    /// Width and height of the whole image in pixels (the SVG's user units).
    pub size: (u32, u32),
    /// Marker radius in pixels; `None` chooses it from the number of points and the area.
    pub point_radius: Option<f64>,
    /// Marker opacity in (0, 1]; `None` chooses it from the number of points.
    pub alpha: Option<f64>,
}

impl Default for PlotOptions {
    /// No title, 1000 x 900 pixels, automatic marker.
    fn default() -> Self {
        Self { title: String::new(), size: (1000, 900), point_radius: None, alpha: None }
    }
}

impl PlotOptions {
    /// Options with `title` and a size suited to an embedding of `dims` dimensions: 1000 x 900
    /// for one map, 2100 x 800 for the three panels of a 3-D embedding.
    pub fn for_dims(title: impl Into<String>, dims: usize) -> Self {
        let size = if dims == 3 { (2100, 800) } else { (1000, 900) };
        Self { title: title.into(), size, ..Self::default() }
    }
}

/// Draws `y` into `path`, a `.png` or `.svg` (chosen by the extension of `path` itself).
///
/// A 2-column `y` gives one map, a 3-column one three panels (dimensions 1-2, 1-3, 2-3) with
/// one legend; other widths are errors. Every panel has equal aspect (one data unit is as
/// many pixels across as up) and the same scale. `labels` (one per row) colour the points:
/// categorically with a legend, or, when all are numbers with more than [`MAX_CLASSES`]
/// distinct values, with viridis and a colour bar. A PNG of a million points takes about half
/// a second; an SVG holds one `<circle>` of about 110 bytes per point.
pub fn scatter(path: &Path, y: &Matrix, labels: Option<&[String]>, options: &PlotOptions) -> Result<()> {
    let format = Format::of(path)?;
    let points = panel_points(y)?;
    let scene = Scene::new(options, labels, y.rows(), points.len())?;
    let panels = fit_panels(points, &scene.layout);
    match format {
        Format::Png => write_png(path, scene.size, &render_rgb(&scene, &panels, None)?),
        Format::Svg => write_svg(path, &scene, &panels),
    }
}

/// The image formats [`scatter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format named by the extension of `path` (case-insensitive).
    pub(crate) fn of(path: &Path) -> Result<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            _ => bail!("cannot plot to {}: the file name must end in .png or .svg", path.display()),
        }
    }
}

/// The column pairs drawn for an embedding of `dims` dimensions.
pub(crate) fn panel_axes(dims: usize) -> Result<Vec<(usize, usize)>> {
    match dims {
        2 => Ok(vec![(0, 1)]),
        3 => Ok(vec![(0, 1), (0, 2), (1, 2)]),
        d => bail!("a plot shows 2 or 3 dimensions, this embedding has {d}"),
    }
}

/// The points of one panel: the embedding columns shown across and up, and each row's pair.
pub(crate) type PanelPoints = ((usize, usize), Vec<[f64; 2]>);

/// The points of `y` in each of its panels ([`panel_axes`]); an error for other widths or a
/// non-finite coordinate.
pub(crate) fn panel_points(y: &Matrix) -> Result<Vec<PanelPoints>> {
    let pairs = panel_axes(y.cols())?;
    if y.as_slice().iter().any(|v| !v.is_finite()) {
        bail!("cannot plot an embedding with non-finite coordinates");
    }
    Ok(pairs
        .into_iter()
        .map(|(a, b)| ((a, b), (0..y.rows()).map(|i| [y.row(i)[a], y.row(i)[b]]).collect()))
        .collect())
}

/// One view per panel, all at the scale of the widest, centred on its data.
fn fit_panels(points: Vec<PanelPoints>, layout: &Layout) -> Vec<Panel> {
    let mut panels: Vec<Panel> = points
        .into_iter()
        .zip(&layout.panels)
        .map(|((axes, xy), rect)| {
            let fit = |(lo, hi)| View::fit(lo, hi, rect, 0.04);
            let view = bounds(&xy).map_or(View::around([0.0; 2], rect), fit);
            Panel { xy, axes, view }
        })
        .collect();
    let upp = panels.iter().map(|p| p.view.upp).fold(0.0, f64::max);
    panels.iter_mut().for_each(|p| p.view.upp = upp);
    panels
}

/// The smallest and largest finite coordinates, or `None` when there are none.
pub(crate) fn bounds(xy: &[[f64; 2]]) -> Option<([f64; 2], [f64; 2])> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in xy.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
        for c in 0..2 {
            lo[c] = lo[c].min(p[c]);
            hi[c] = hi[c].max(p[c]);
        }
    }
    (lo[0] <= hi[0]).then_some((lo, hi))
}

/// A pixel rectangle, `x0..x1` by `y0..y1` (ends excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub(crate) fn width(&self) -> i32 {
        self.x1 - self.x0
    }
    pub(crate) fn height(&self) -> i32 {
        self.y1 - self.y0
    }
    fn centre(&self) -> [f64; 2] {
        [f64::from(self.x0 + self.x1) / 2.0, f64::from(self.y0 + self.y1) / 2.0]
    }
    pub(crate) fn contains(&self, x: f64, y: f64) -> bool {
        x >= f64::from(self.x0) && x < f64::from(self.x1) && y >= f64::from(self.y0) && y < f64::from(self.y1)
    }
}

/// The mapping of data to pixels in a panel: one scale for both axes (equal aspect).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct View {
    /// The data point drawn at the centre of the panel.
    pub centre: [f64; 2],
    /// Data units per pixel, across and up alike.
    pub upp: f64,
}

impl View {
    /// The view that shows `lo..hi` in `rect` with `margin` (a fraction of the span) around
    /// it: the shorter range is widened around its centre to the rectangle's aspect.
    pub(crate) fn fit(lo: [f64; 2], hi: [f64; 2], rect: &Rect, margin: f64) -> View {
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let (w, h) = (f64::from(rect.width()), f64::from(rect.height()));
        let upp = ((hi[0] - lo[0]) / w).max((hi[1] - lo[1]) / h) * (1.0 + 2.0 * margin);
        if upp > 0.0 && upp.is_finite() {
            View { centre, upp }
        } else {
            View::around(centre, rect)
        }
    }

    /// A view of a single point: about one unit (or its magnitude) across.
    fn around(centre: [f64; 2], rect: &Rect) -> View {
        let unit = centre[0].abs().max(centre[1].abs()).max(1.0);
        View { centre, upp: unit / f64::from(rect.width().min(rect.height()).max(1)) }
    }

    /// The pixel position of data point `p` in `rect` (y grows downwards on screen).
    pub(crate) fn pixel(&self, rect: &Rect, p: [f64; 2]) -> [f64; 2] {
        let c = rect.centre();
        [c[0] + (p[0] - self.centre[0]) / self.upp, c[1] - (p[1] - self.centre[1]) / self.upp]
    }

    /// The data range shown along axis `axis` (0 across, 1 up) of `rect`.
    fn range(&self, rect: &Rect, axis: usize) -> (f64, f64) {
        let half = f64::from(if axis == 0 { rect.width() } else { rect.height() }) / 2.0 * self.upp;
        (self.centre[axis] - half, self.centre[axis] + half)
    }
}

/// Ticks at multiples of a "nice" step `m * 10^e` with `m` in {1, 2, 5}: tick `k` is at
/// `k * m * 10^e` for `k` in `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticks {
    pub mantissa: i64,
    pub exponent: i32,
    pub first: i64,
    pub last: i64,
}

impl Ticks {
    /// About `target` ticks inside `lo..=hi` (at least two when the range is not empty).
    pub(crate) fn new(lo: f64, hi: f64, target: usize) -> Ticks {
        let raw = ((hi - lo) / target.max(1) as f64).max(f64::MIN_POSITIVE);
        let mut exponent = raw.log10().floor() as i32;
        let f = raw / 10f64.powi(exponent);
        let mantissa = match f {
            f if f < 1.5 => 1,
            f if f < 3.0 => 2,
            f if f < 7.0 => 5,
            _ => {
                exponent += 1;
                1
            }
        };
        let step = mantissa as f64 * 10f64.powi(exponent);
        let first = (lo / step - 1e-9).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        Ticks { mantissa, exponent, first, last }
    }

    /// The distance between ticks.
    pub(crate) fn step(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Every tick as (value, label).
    pub(crate) fn all(&self) -> Vec<(f64, String)> {
        (self.first..=self.last).map(|k| (k as f64 * self.step(), self.label(k))).collect()
    }

    /// Tick `k` as a person writes it: `40`, `-20`, `2.5`, `0.05`, `1.5e-4`, `2e6`.
    pub(crate) fn label(&self, k: i64) -> String {
        decimal_label(k * self.mantissa, self.exponent)
    }
}

/// The number `n * 10^e` written without needless digits; scientific below 1e-4 steps or from
/// a million up.
fn decimal_label(n: i64, e: i32) -> String {
    if n == 0 {
        return "0".into();
    }
    let sign = if n < 0 { "-" } else { "" };
    let digits = n.unsigned_abs().to_string();
    let magnitude = digits.len() as i32 - 1 + e;
    if e >= 0 && magnitude < 6 {
        return format!("{sign}{digits}{}", "0".repeat(e as usize));
    }
    if (-4..0).contains(&e) {
        let places = (-e) as usize;
        let padded = format!("{digits:0>width$}", width = places + 1);
        let (int, frac) = padded.split_at(padded.len() - places);
        let frac = frac.trim_end_matches('0');
        return if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
    }
    let trimmed = digits.trim_end_matches('0');
    let (lead, rest) = trimmed.split_at(1);
    let dot = if rest.is_empty() { "" } else { "." };
    format!("{sign}{lead}{dot}{rest}e{magnitude}")
}

/// What explains the colours: nothing, a legend of classes, or a colour bar of values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    None,
    /// Class names in order with their colours.
    Legend(Vec<(String, Rgb)>),
    /// Viridis from `lo` to `hi`.
    Bar {
        lo: f64,
        hi: f64,
    },
}

/// The colour of every point and the key that explains them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Colouring {
    pub point: Vec<Rgb>,
    pub key: Key,
}

impl Colouring {
    /// Colours for `n` points from `labels` (see [`scatter`]).
    pub(crate) fn new(labels: Option<&[String]>, n: usize) -> Result<Colouring> {
        let Some(labels) = labels else {
            return Ok(Colouring { point: vec![CATEGORICAL[0]; n], key: Key::None });
        };
        if labels.len() != n {
            bail!("{} labels for {n} points: give one label per point", labels.len());
        }
        let (classes, numeric) = classes(labels);
        if numeric && classes.len() > MAX_CLASSES {
            let values: Vec<f64> = labels.iter().map(|l| l.trim().parse().unwrap_or(0.0)).collect();
            let (lo, hi) =
                values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let point = values.iter().map(|&v| viridis((v - lo) / (hi - lo))).collect();
            return Ok(Colouring { point, key: Key::Bar { lo, hi } });
        }
        let index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let point = labels.iter().map(|l| class_rgb(index[l.as_str()])).collect();
        let key =
            Key::Legend(classes.iter().enumerate().map(|(i, c)| (c.to_string(), class_rgb(i))).collect());
        Ok(Colouring { point, key })
    }

    /// The distinct colours that points take before blending (for a GIF palette).
    pub(crate) fn base_colours(&self) -> Vec<Rgb> {
        match &self.key {
            Key::None => vec![CATEGORICAL[0]],
            Key::Legend(entries) => entries.iter().take(CATEGORICAL.len()).map(|e| e.1).collect(),
            Key::Bar { .. } => (0..16).map(|i| viridis(f64::from(i) / 15.0)).collect(),
        }
    }
}

/// The distinct labels, sorted numerically when all are finite numbers (the `bool`), else
/// lexically with runs of digits compared by value (`class 2` before `class 10`).
fn classes(labels: &[String]) -> (Vec<&str>, bool) {
    let mut classes: Vec<&str> = labels.iter().map(String::as_str).collect();
    classes.sort_unstable();
    classes.dedup();
    let numbers: Option<Vec<f64>> =
        classes.iter().map(|c| c.trim().parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    let Some(numbers) = numbers else {
        classes.sort_by(|a, b| natural_cmp(a, b));
        return (classes, false);
    };
    let mut pairs: Vec<(f64, &str)> = numbers.into_iter().zip(classes).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    (pairs.into_iter().map(|p| p.1).collect(), true)
}

/// Orders `a` and `b` character by character, except that runs of ASCII digits compare by
/// their value; ties fall back to plain string order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) if p.is_ascii_digit() && q.is_ascii_digit() => {
                let (dx, rx) = x.split_at(x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len()));
                let (dy, ry) = y.split_at(y.find(|c: char| !c.is_ascii_digit()).unwrap_or(y.len()));
                let (tx, ty) = (dx.trim_start_matches('0'), dy.trim_start_matches('0'));
                let by_value = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (x, y) = (rx, ry);
            }
            (Some(p), Some(q)) if p != q => return p.cmp(&q),
            (Some(p), Some(_)) => (x, y) = (&x[p.len_utf8()..], &y[p.len_utf8()..]),
        }
    }
}

/// The colour of class `i`: the categorical palette, cycling after 40 classes.
fn class_rgb(i: usize) -> Rgb {
    CATEGORICAL[i % CATEGORICAL.len()]
}

/// Viridis at `t` in [0, 1] (clamped; NaN gives the low end), linear between stops.
pub(crate) fn viridis(t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// The legend's shape: `shown` entries in `cols` columns of `rows`, each `row_h` tall.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LegendShape {
    rows: usize,
    cols: usize,
    row_h: f64,
    col_w: i32,
    font: f64,
    shown: usize,
}

/// Where everything goes: the title line, the data rectangles, the key column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// Text scale (1 at a 900-pixel-high image).
    pub scale: f64,
    pub title_y: i32,
    pub panels: Vec<Rect>,
    pub key: Rect,
    legend: Option<LegendShape>,
}

/// Everything about a picture that does not depend on the positions: size, title, colours,
/// drawing order, marker, layout.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    pub size: (u32, u32),
    pub title: String,
    pub colouring: Colouring,
    /// Points are drawn in this order (a fixed shuffle, so no class sits on top of all others).
    pub order: Vec<u32>,
    pub radius: f64,
    pub alpha: f64,
    pub layout: Layout,
}

impl Scene {
    /// The scene for `n` points in `panels` panels; errors on mismatched labels or an image too
    /// small to hold a map.
    pub(crate) fn new(
        opts: &PlotOptions,
        labels: Option<&[String]>,
        n: usize,
        panels: usize,
    ) -> Result<Scene> {
        ensure_font();
        let colouring = Colouring::new(labels, n)?;
        let layout = layout(opts.size, !opts.title.is_empty(), &colouring.key, panels)?;
        let order = shuffled(n);
        let mut scene = Scene {
            size: opts.size,
            title: opts.title.clone(),
            colouring,
            order,
            radius: 1.0,
            alpha: 1.0,
            layout,
        };
        scene.auto_marker(opts);
        Ok(scene)
    }

    /// Sets the marker from `opts` or, where it says `None`, from [`marker`].
    pub(crate) fn auto_marker(&mut self, opts: &PlotOptions) {
        let rect = self.layout.panels[0];
        let (r, a) = marker(self.order.len(), f64::from(rect.width()) * f64::from(rect.height()));
        self.radius = opts.point_radius.unwrap_or(r).max(0.3);
        self.alpha = opts.alpha.unwrap_or(a).clamp(0.01, 1.0);
    }
}

/// Marker radius (pixels) and opacity for `n` points on a data area of `area` square pixels.
///
/// The radius falls as `n^-1/4` (3.2 px for 1,797 points on a 780 x 780 area, 1.3 px for
/// 70,000, 0.7 px for a million) and with the side of the area; the opacity falls with
/// `log10 n` (0.9, 0.5, 0.22), so dense clusters darken while sparse points stay visible.
pub(crate) fn marker(n: usize, area: f64) -> (f64, f64) {
    let n = n.max(1) as f64;
    let side = (area.max(1.0)).sqrt() / 780.0;
    let radius = (20.8 * n.powf(-0.25) * side).clamp(0.6, 6.0);
    let alpha = (0.9 - 0.25 * (n / 2000.0).log10()).clamp(0.15, 0.9);
    (radius, alpha)
}

/// `0..n` in a fixed pseudo-random order (xorshift Fisher-Yates).
fn shuffled(n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    order
}

/// Lays out a `size` image with `panels` maps side by side and the key on the right.
fn layout(size: (u32, u32), titled: bool, key: &Key, panels: usize) -> Result<Layout> {
    let (w, h) = (size.0 as i32, size.1 as i32);
    let s = (f64::from(w.min(h)) / 900.0).clamp(0.8, 2.0);
    let px = |v: f64| (v * s).round() as i32;
    let top = if titled { px(56.0) } else { px(22.0) };
    let bottom = h - px(58.0);
    let (legend, key_w) = key_width(key, f64::from(bottom - top), s);
    let key_x1 = w - px(16.0);
    let key_x0 = if key_w > 0 { key_x1 - key_w } else { key_x1 };
    let area_x1 = if key_w > 0 { key_x0 - px(20.0) } else { key_x1 };
    let cell = (area_x1 - px(8.0)) / panels.max(1) as i32;
    let rects: Vec<Rect> = (0..panels as i32)
        .map(|i| {
            let x0 = px(8.0) + i * cell + px(74.0);
            square_ish(Rect { x0, y0: top, x1: x0 + cell - px(90.0), y1: bottom })
        })
        .collect();
    if rects.iter().any(|r| r.width() < 40 || r.height() < 40) {
        bail!("a {}x{} image is too small for this plot", size.0, size.1);
    }
    let key = Rect { x0: key_x0, y0: rects[0].y0, x1: key_x1, y1: rects[0].y1 };
    Ok(Layout { scale: s, title_y: px(28.0), panels: rects, key, legend })
}

/// `r` shrunk about its centre so neither side exceeds 1.3 times the other.
fn square_ish(r: Rect) -> Rect {
    let (w, h) = (r.width(), r.height());
    let (nw, nh) = (w.min(h * 13 / 10), h.min(w * 13 / 10));
    let (dx, dy) = ((w - nw) / 2, (h - nh) / 2);
    Rect { x0: r.x0 + dx, y0: r.y0 + dy, x1: r.x0 + dx + nw, y1: r.y0 + dy + nh }
}

/// The key column's width (and the legend's shape) for a data area `height` pixels tall.
fn key_width(key: &Key, height: f64, s: f64) -> (Option<LegendShape>, i32) {
    match key {
        Key::None => (None, 0),
        Key::Bar { lo, hi } => {
            let font = 14.0 * s;
            let ticks = Ticks::new(*lo, *hi, 6).all();
            let widest = ticks.iter().map(|t| text_width(&t.1, font)).max().unwrap_or(0);
            (None, (30.0 * s) as i32 + widest)
        }
        Key::Legend(entries) => {
            let shape = legend_shape(entries, height, s);
            (Some(shape), shape.col_w * shape.cols as i32)
        }
    }
}

/// One column of up to 40 rows, 24 to 17 pixels tall; more entries go into two columns, and
/// what still does not fit is summarised as "+k more".
fn legend_shape(entries: &[(String, Rgb)], height: f64, s: f64) -> LegendShape {
    let n = entries.len().max(1);
    let row_h = (height / n as f64).clamp(17.0 * s, 24.0 * s);
    let fit = ((height / row_h).floor() as usize).max(1);
    let cols = if n <= fit { 1 } else { 2 };
    let rows = n.div_ceil(cols).min(fit);
    let shown = if n <= rows * cols { n } else { rows * cols - 1 };
    let font = if row_h >= 20.0 * s { 15.0 * s } else { 13.0 * s };
    let widest = entries.iter().take(shown).map(|e| text_width(&e.0, font)).max().unwrap_or(0);
    let col_w = (widest + (30.0 * s) as i32).max(text_width("+99 more", font) + (8.0 * s) as i32);
    LegendShape { rows, cols, row_h, col_w, font, shown }
}

/// Registers the embedded DejaVu Sans as "sans-serif" (once).
fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Registration only fails on a malformed font, and the embedded one is not.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The width in pixels of `s` at font size `size`.
fn text_width(s: &str, size: f64) -> i32 {
    let font = ("sans-serif", size).into_font();
    font.box_size(s).map_or((s.len() as f64 * size * 0.6) as i32, |(w, _)| w as i32)
}

/// One map: the positions of the points along two embedding columns and how they are shown.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub xy: Vec<[f64; 2]>,
    /// The embedding columns shown across and up (0-based).
    pub axes: (usize, usize),
    pub view: View,
}

/// One frame of an animation, as RGB: `points` (from [`panel_points`]) drawn in `scene` with
/// the given `views` (one per panel) instead of fitted ones, `caption` right of the title:
/// the picture of the GIF's frames and of the PNG frames alike.
pub(crate) fn frame_rgb(
    scene: &Scene,
    points: Vec<PanelPoints>,
    views: &[View],
    caption: &str,
) -> Result<Vec<u8>> {
    if points.len() != views.len() || points.len() != scene.layout.panels.len() {
        bail!(
            "{} panels of points and {} views for a scene of {}",
            points.len(),
            views.len(),
            scene.layout.panels.len()
        );
    }
    let panels: Vec<Panel> =
        points.into_iter().zip(views).map(|((axes, xy), &view)| Panel { xy, axes, view }).collect();
    render_rgb(scene, &panels, Some(caption))
}

/// A white RGB image with `panels` drawn as anti-aliased discs, then frames, text and key.
pub(crate) fn render_rgb(scene: &Scene, panels: &[Panel], caption: Option<&str>) -> Result<Vec<u8>> {
    let (w, h) = (scene.size.0 as usize, scene.size.1 as usize);
    let mut rgb = vec![255u8; w * h * 3];
    for (panel, rect) in panels.iter().zip(&scene.layout.panels) {
        for &i in &scene.order {
            let [x, y] = panel.view.pixel(rect, panel.xy[i as usize]);
            disc(&mut rgb, w, rect, [x, y], scene.radius, scene.colouring.point[i as usize], scene.alpha);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut rgb, scene.size).into_drawing_area();
        decorate(&Pen { area: &root, bitmap: true }, scene, panels, caption)?;
        root.present().map_err(plot_err)?;
    }
    Ok(rgb)
}

/// Blends a disc of radius `r` centred at `c` (pixel units) over `rgb` (width `w`), clipped
/// to `clip`, with coverage-based anti-aliasing.
fn disc(rgb: &mut [u8], w: usize, clip: &Rect, c: [f64; 2], r: f64, colour: Rgb, alpha: f64) {
    if !clip.contains(c[0], c[1]) {
        return;
    }
    let x0 = ((c[0] - r - 0.5).floor() as i32).max(clip.x0);
    let x1 = ((c[0] + r + 0.5).ceil() as i32).min(clip.x1 - 1);
    let y0 = ((c[1] - r - 0.5).floor() as i32).max(clip.y0);
    let y1 = ((c[1] + r + 0.5).ceil() as i32).min(clip.y1 - 1);
    let strength = alpha * (r / 0.5).min(1.0);
    for py in y0..=y1 {
        let dy = f64::from(py) + 0.5 - c[1];
        for px in x0..=x1 {
            let dx = f64::from(px) + 0.5 - c[0];
            let cover = (r + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0);
            let a = (cover * strength * 256.0) as u32;
            if a == 0 {
                continue;
            }
            let at = (py as usize * w + px as usize) * 3;
            for k in 0..3 {
                let old = u32::from(rgb[at + k]);
                rgb[at + k] = ((old * (256 - a) + u32::from(colour[k]) * a) >> 8) as u8;
            }
        }
    }
}

/// Writes an RGB buffer of `size` as a PNG.
pub(crate) fn write_png(path: &Path, size: (u32, u32), rgb: &[u8]) -> Result<()> {
    let mut backend = BitMapBackend::new(path, size);
    backend.blit_bitmap((0, 0), size, rgb).map_err(|e| anyhow!("plotting failed: {e}"))?;
    backend.present().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// Writes the scene as SVG: one circle per point, then frames, text and key.
fn write_svg(path: &Path, scene: &Scene, panels: &[Panel]) -> Result<()> {
    let root = SVGBackend::new(path, scene.size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let r = scene.radius.round().max(1.0) as u32;
    for (panel, rect) in panels.iter().zip(&scene.layout.panels) {
        for &i in &scene.order {
            let [x, y] = panel.view.pixel(rect, panel.xy[i as usize]);
            if rect.contains(x, y) {
                let c = rgba(scene.colouring.point[i as usize], scene.alpha);
                root.draw(&Circle::new((x as i32, y as i32), r, c.filled())).map_err(plot_err)?;
            }
        }
    }
    decorate(&Pen { area: &root, bitmap: false }, scene, panels, None)?;
    root.present().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn rgba(c: Rgb, alpha: f64) -> RGBAColor {
    RGBAColor(c[0], c[1], c[2], alpha)
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("plotting failed: {e}")
}

/// A drawing area and how its backend places text.
pub(crate) struct Pen<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    /// The bitmap backend draws text about 0.14 font sizes higher than the SVG one (and than
    /// intended): it is moved down by that much.
    bitmap: bool,
}

impl<DB: DrawingBackend> Pen<'_, DB> {
    /// Draws `s` at `at` with font `size`, anchored by `anchor`; `upright` rotates it to read
    /// bottom to top.
    fn text(
        &self,
        s: &str,
        at: (i32, i32),
        size: f64,
        colour: &RGBColor,
        anchor: (HPos, VPos),
        upright: bool,
    ) -> Result<()> {
        let mut style = ("sans-serif", size).into_font().color(colour).pos(Pos::new(anchor.0, anchor.1));
        let nudge = match (self.bitmap, anchor.1) {
            (false, _) => 0,
            (true, VPos::Bottom) => (0.09 * size).round() as i32,
            (true, _) => (0.14 * size).round() as i32,
        };
        let at = if upright {
            style = style.transform(FontTransform::Rotate270);
            (at.0 + nudge, at.1)
        } else {
            (at.0, at.1 + nudge)
        };
        self.area.draw_text(s, &style, at).map_err(plot_err)
    }

    /// Draws one element.
    fn draw<E>(&self, element: &E) -> Result<()>
    where
        for<'b> &'b E: PointCollection<'b, (i32, i32)>,
        E: Drawable<DB>,
    {
        self.area.draw(element).map_err(plot_err)
    }
}

/// Everything but the points: title (and `caption` on its right), axes, key.
fn decorate<DB: DrawingBackend>(
    pen: &Pen<'_, DB>,
    scene: &Scene,
    panels: &[Panel],
    caption: Option<&str>,
) -> Result<()> {
    let l = &scene.layout;
    let s = l.scale;
    let (first, last) = (l.panels[0], l.panels[l.panels.len() - 1]);
    if !scene.title.is_empty() {
        let at = ((first.x0 + last.x1) / 2, l.title_y);
        pen.text(&scene.title, at, 24.0 * s, &INK, (HPos::Center, VPos::Center), false)?;
    }
    if let Some(caption) = caption {
        let at = (scene.size.0 as i32 - (16.0 * s) as i32, l.title_y);
        pen.text(caption, at, 17.0 * s, &SOFT_INK, (HPos::Right, VPos::Center), false)?;
    }
    for (panel, rect) in panels.iter().zip(&l.panels) {
        draw_axes(pen, panel, rect, s)?;
    }
    match &scene.colouring.key {
        Key::None => Ok(()),
        Key::Legend(entries) => draw_legend(pen, entries, l),
        Key::Bar { lo, hi } => draw_colour_bar(pen, *lo, *hi, &l.key, s),
    }
}

/// The frame of `rect`, ticks and tick labels outside it, and the axis names.
fn draw_axes<DB: DrawingBackend>(pen: &Pen<'_, DB>, panel: &Panel, rect: &Rect, s: f64) -> Result<()> {
    let (font, tick) = (14.0 * s, (5.0 * s) as i32);
    pen.draw(&Rectangle::new([(rect.x0, rect.y0), (rect.x1, rect.y1)], FRAME.stroke_width(1)))?;
    let across = panel.view.range(rect, 0);
    for (v, label) in Ticks::new(across.0, across.1, tick_target(rect.width(), s)).all() {
        let x = panel.view.pixel(rect, [v, panel.view.centre[1]])[0].round() as i32;
        pen.draw(&PathElement::new(vec![(x, rect.y1), (x, rect.y1 + tick)], FRAME))?;
        pen.text(
            &label,
            (x, rect.y1 + tick + (4.0 * s) as i32),
            font,
            &SOFT_INK,
            (HPos::Center, VPos::Top),
            false,
        )?;
    }
    let up = panel.view.range(rect, 1);
    let mut widest = 0;
    for (v, label) in Ticks::new(up.0, up.1, tick_target(rect.height(), s)).all() {
        let y = panel.view.pixel(rect, [panel.view.centre[0], v])[1].round() as i32;
        pen.draw(&PathElement::new(vec![(rect.x0 - tick, y), (rect.x0, y)], FRAME))?;
        pen.text(&label, (rect.x0 - tick - 4, y), font, &SOFT_INK, (HPos::Right, VPos::Center), false)?;
        widest = widest.max(text_width(&label, font));
    }
    let name = |c: usize| format!("dimension {}", c + 1);
    let below = (rect.x0 + rect.width() / 2, rect.y1 + tick + (26.0 * s) as i32);
    pen.text(&name(panel.axes.0), below, font, &SOFT_INK, (HPos::Center, VPos::Top), false)?;
    let left = (rect.x0 - tick - 12 - widest - (6.0 * s) as i32, rect.y0 + rect.height() / 2);
    pen.text(&name(panel.axes.1), left, font, &SOFT_INK, (HPos::Center, VPos::Bottom), true)
}

/// About one tick per 110 pixels (scaled), three to eight.
fn tick_target(len: i32, s: f64) -> usize {
    ((f64::from(len) / (110.0 * s)) as usize).clamp(3, 8)
}

/// The legend: a marker and a name per class, in columns, vertically centred on the key.
fn draw_legend<DB: DrawingBackend>(pen: &Pen<'_, DB>, entries: &[(String, Rgb)], l: &Layout) -> Result<()> {
    let Some(shape) = l.legend else { return Ok(()) };
    let s = l.scale;
    let used = shape.rows.min(entries.len()) as f64 * shape.row_h;
    let top = f64::from(l.key.y0) + (f64::from(l.key.height()) - used).max(0.0) / 2.0;
    let marker_r = (5.0 * s).round() as i32;
    let at = |slot: usize| {
        let (col, row) = (slot / shape.rows, slot % shape.rows);
        let y = (top + (row as f64 + 0.5) * shape.row_h).round() as i32;
        (l.key.x0 + col as i32 * shape.col_w, y)
    };
    for (slot, (name, colour)) in entries.iter().take(shape.shown).enumerate() {
        let (x, y) = at(slot);
        pen.draw(&Circle::new((x + marker_r + 2, y), marker_r as u32, rgb(*colour).filled()))?;
        let tx = x + 2 * marker_r + (10.0 * s) as i32;
        pen.text(name, (tx, y), shape.font, &INK, (HPos::Left, VPos::Center), false)?;
    }
    if shape.shown < entries.len() {
        let more = format!("+{} more", entries.len() - shape.shown);
        pen.text(&more, at(shape.shown), shape.font, &SOFT_INK, (HPos::Left, VPos::Center), false)?;
    }
    Ok(())
}

/// A vertical viridis bar over 70% of the key's height, `lo` at the bottom, with ticks.
fn draw_colour_bar<DB: DrawingBackend>(
    pen: &Pen<'_, DB>,
    lo: f64,
    hi: f64,
    key: &Rect,
    s: f64,
) -> Result<()> {
    let bar_h = (f64::from(key.height()) * 0.7) as i32;
    let (x0, x1) = (key.x0, key.x0 + (16.0 * s) as i32);
    let y1 = key.y0 + (key.height() + bar_h) / 2;
    let y0 = y1 - bar_h;
    let band = 2;
    for y in (y0..y1).step_by(band) {
        let t = f64::from(y1 - y) / f64::from(bar_h);
        let c = rgb(viridis(t));
        pen.draw(&Rectangle::new([(x0, y), (x1, (y + band as i32).min(y1))], c.filled()))?;
    }
    pen.draw(&Rectangle::new([(x0, y0), (x1, y1)], FRAME.stroke_width(1)))?;
    let span = if hi > lo { hi - lo } else { 1.0 };
    for (v, label) in Ticks::new(lo, hi, 6).all() {
        let y = y1 - ((v - lo) / span * f64::from(bar_h)).round() as i32;
        pen.draw(&PathElement::new(vec![(x1, y), (x1 + (4.0 * s) as i32, y)], FRAME))?;
        let at = (x1 + (7.0 * s) as i32, y);
        pen.text(&label, at, 14.0 * s, &SOFT_INK, (HPos::Left, VPos::Center), false)?;
    }
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
    ensure_font();
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    if all().next().is_none() || all().any(|(x, y)| !(x > 0.0 && y > 0.0)) {
        bail!("a log-log chart needs at least one point and positive coordinates");
    }
    let (x0, x1) = all().fold((f64::INFINITY, 0.0f64), |(a, b), (x, _)| (a.min(x), b.max(x)));
    let (y0, y1) = all().fold((f64::INFINITY, 0.0f64), |(a, b), (_, y)| (a.min(y), b.max(y)));
    let root = BitMapBackend::new(path, (900, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((x0 / 1.5..x1 * 1.5).log_scale(), (y0 / 1.5..y1 * 1.5).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| short_number(*v))
        .y_label_formatter(&|v| short_number(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    for (i, s) in series.iter().enumerate() {
        let c = rgb(class_rgb(i));
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(plot_err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled()))).map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tsne-plot-{}-{name}", std::process::id()))
    }

    /// `n` points in three classes on a wide ellipse.
    fn sample(n: usize, dims: usize) -> (Matrix, Vec<String>) {
        let data = (0..n)
            .flat_map(|i| {
                let t = i as f64 * 0.7;
                [8.0 * t.cos(), 2.0 * t.sin(), t.sin() * t.cos()].into_iter().take(dims)
            })
            .collect();
        let labels = (0..n).map(|i| ["a", "b", "c"][i % 3].to_string()).collect();
        (Matrix::new(n, dims, data).unwrap(), labels)
    }

    /// The (cx, cy) of every `<circle>` of an SVG text.
    fn circles(svg: &str) -> Vec<(f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[from..from + tag[from..].find('"').unwrap()].parse().unwrap()
        };
        svg.split("<circle").skip(1).map(|t| (attr(t, "cx"), attr(t, "cy"))).collect()
    }

    fn opts(title: &str) -> PlotOptions {
        PlotOptions { title: title.into(), ..PlotOptions::default() }
    }

    #[test]
    fn tick_labels_read_as_written_by_hand() {
        let labels: Vec<String> = [1000.0, 10_000.0, 100_000.0, 1e6, 2.5e6, 0.5, 20.0, 3.0, 0.25, 1500.0]
            .iter()
            .map(|&v| short_number(v))
            .collect();
        assert_eq!(labels, ["1k", "10k", "100k", "1M", "2.5M", "0.5", "20", "3", "0.25", "1.5k"]);
    }

    #[test]
    fn the_view_maps_one_unit_to_the_same_pixels_across_and_up() {
        let rect = Rect { x0: 70, y0: 50, x1: 870, y1: 650 };
        for (lo, hi) in [([-100.0, -1.0], [100.0, 1.0]), ([-0.5, -300.0], [0.5, 20.0])] {
            let v = View::fit(lo, hi, &rect, 0.04);
            let o = v.pixel(&rect, [0.0, 0.0]);
            let (across, up) = (v.pixel(&rect, [1.0, 0.0]), v.pixel(&rect, [0.0, 1.0]));
            assert!(((across[0] - o[0]) - (o[1] - up[1])).abs() < 1e-9, "{v:?}");
            for corner in [lo, hi] {
                let [x, y] = v.pixel(&rect, corner);
                assert!(rect.contains(x, y) || x == f64::from(rect.x1), "{corner:?} at ({x}, {y})");
            }
            let mid = v.pixel(&rect, [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0]);
            assert_eq!(mid, rect.centre(), "the widened range stays centred on the data");
        }
    }

    #[test]
    fn svg_maps_keep_equal_aspect_for_wide_and_tall_embeddings() {
        for (w, h) in [(10.0, 1.0), (1.0, 10.0)] {
            let y = Matrix::new(3, 2, vec![0.0, 0.0, w, 0.0, 0.0, h]).unwrap();
            let path = tmp(&format!("aspect-{w}.svg"));
            scatter(&path, &y, None, &opts("aspect")).unwrap();
            let mut c = circles(&std::fs::read_to_string(&path).unwrap());
            std::fs::remove_file(&path).ok();
            assert_eq!(c.len(), 3);
            // Drawn in shuffled order: (w, 0) is rightmost, (0, h) topmost, the origin the other.
            c.sort_by(|a, b| a.0.total_cmp(&b.0));
            let right = c.pop().unwrap();
            c.sort_by(|a, b| b.1.total_cmp(&a.1));
            let c = [c[0], right, c[1]];
            let (across, up) = ((c[1].0 - c[0].0) / w, (c[0].1 - c[2].1) / h);
            assert!(
                across > 20.0 && (across - up).abs() <= 2.0 / w.min(h),
                "{across} px/unit across, {up} up"
            );
            assert!((c[1].1 - c[0].1).abs() < 1.0 && (c[2].0 - c[0].0).abs() < 1.0);
        }
    }

    #[test]
    fn ticks_step_by_one_two_or_five_and_read_without_needless_digits() {
        let mut s = 12345u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let scale = 10f64.powf(next() * 16.0 - 8.0);
            let lo = (next() - 0.6) * scale;
            let hi = lo + scale * (0.1 + next());
            let target = 3 + (next() * 6.0) as usize;
            let t = Ticks::new(lo, hi, target);
            assert!([1, 2, 5].contains(&t.mantissa), "{t:?}");
            let all = t.all();
            assert!(all.len() >= 2 && all.len() <= 2 * target + 1, "{lo}..{hi}: {all:?}");
            for (k, (v, label)) in (t.first..).zip(&all) {
                let tol = 1e-9 * t.step();
                assert!(*v >= lo - tol && *v <= hi + tol, "{v} outside {lo}..{hi}");
                let mantissa = label.split('e').next().unwrap();
                assert!(!mantissa.contains('.') || !mantissa.ends_with('0'), "needless zero in {label}");
                assert!(label != "-0" && !label.starts_with("-0e"), "{label}");
                let back: f64 = label.parse().unwrap();
                assert!((back - k as f64 * t.step()).abs() <= tol, "{label} for {v}");
            }
        }
        let labels = |lo, hi, n| Ticks::new(lo, hi, n).all().into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(labels(-23.0, 47.0, 4), ["-20", "0", "20", "40"]);
        assert_eq!(labels(0.0, 10.0, 4), ["0", "2", "4", "6", "8", "10"]);
        assert_eq!(labels(0.2, 3.0, 6), ["0.5", "1", "1.5", "2", "2.5", "3"]);
        assert_eq!(labels(-0.1, 0.26, 4), ["-0.1", "0", "0.1", "0.2"]);
        assert_eq!(labels(-1.6e-4, 1.6e-4, 6), ["-1.5e-4", "-1e-4", "-5e-5", "0", "5e-5", "1e-4", "1.5e-4"]);
        assert_eq!(labels(0.0, 3.2e7, 3), ["0", "1e7", "2e7", "3e7"]);
    }

    #[test]
    fn svg_holds_one_circle_per_point_and_per_legend_entry() {
        let (y, labels) = sample(50, 2);
        let path = tmp("count.svg");
        scatter(&path, &y, Some(&labels), &opts("fifty")).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(circles(&svg).len(), 50 + 3);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        for needle in [">\nfifty\n<", ">\na\n<", ">\nc\n<", ">\ndimension 2\n<"] {
            assert!(svg.contains(needle), "no {needle:?}");
        }
    }

    /// Decodes a PNG into (width, height, RGB bytes).
    fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::fs::File::open(path).unwrap()).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Whether `colour` is at some pixel with x in `xs`.
    fn has_colour(rgb: &[u8], w: u32, xs: std::ops::Range<u32>, colour: Rgb) -> bool {
        rgb.chunks_exact(3).enumerate().any(|(i, p)| xs.contains(&(i as u32 % w)) && p == colour)
    }

    #[test]
    fn png_decodes_with_the_legend_colours_beside_the_data() {
        let (y, labels) = sample(300, 2);
        let path = tmp("legend.png");
        let options = PlotOptions { size: (640, 520), ..opts("legend") };
        scatter(&path, &y, Some(&labels), &options).unwrap();
        let (w, h, rgb) = decode_png(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!((w, h), (640, 520));
        let scene = Scene::new(&options, Some(&labels), 300, 1).unwrap();
        let data = scene.layout.panels[0];
        for c in &CATEGORICAL[..3] {
            assert!(has_colour(&rgb, w, data.x1 as u32..w, *c), "legend colour {c:?}");
        }
        assert!(!has_colour(&rgb, w, data.x1 as u32..w, CATEGORICAL[3]), "only three classes");
        let tinted = rgb.chunks_exact(3).enumerate().filter(|(i, p)| {
            let (x, y) = ((i % w as usize) as f64, (i / w as usize) as f64);
            data.contains(x, y) && i32::from(p[2]) > i32::from(p[0]) + 40
        });
        assert!(tinted.count() > 300, "the blue class is drawn inside the data rectangle");
    }

    #[test]
    fn many_distinct_numbers_get_a_colour_bar_and_few_a_legend() {
        let few: Vec<String> = (0..40).map(|i| (i * 3).to_string()).collect();
        assert!(matches!(Colouring::new(Some(&few), 40).unwrap().key, Key::Legend(ref e) if e.len() == 40));
        let many: Vec<String> = (0..200).map(|i| format!("{}", f64::from(i) * 0.5)).collect();
        let c = Colouring::new(Some(&many), 200).unwrap();
        assert_eq!(c.key, Key::Bar { lo: 0.0, hi: 99.5 });
        assert_eq!((c.point[0], c.point[199]), (VIRIDIS[0], VIRIDIS[9]));
        let (y, _) = sample(200, 2);
        let path = tmp("bar.png");
        scatter(&path, &y, Some(&many), &PlotOptions { size: (640, 520), ..opts("") }).unwrap();
        let (w, _, rgb) = decode_png(&path);
        std::fs::remove_file(&path).ok();
        let scene = Scene::new(&PlotOptions { size: (640, 520), ..opts("") }, Some(&many), 200, 1).unwrap();
        let key = scene.layout.key;
        for end in [VIRIDIS[0], VIRIDIS[9]] {
            let near = |p: &[u8]| (0..3).all(|k| (i32::from(p[k]) - i32::from(end[k])).abs() <= 6);
            let inside = |i: usize| (key.x0..key.x1).contains(&((i % w as usize) as i32));
            assert!(rgb.chunks_exact(3).enumerate().any(|(i, p)| inside(i) && near(p)), "bar end {end:?}");
        }
    }

    #[test]
    fn classes_sort_numerically_when_all_are_numbers_else_naturally() {
        let names = |v: &[&str]| {
            let owned: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            let (c, numeric) = classes(&owned);
            (c.into_iter().map(String::from).collect::<Vec<_>>(), numeric)
        };
        assert_eq!(
            names(&["10", "2", "1.5", "2", "-3"]),
            (vec!["-3".into(), "1.5".into(), "2".into(), "10".into()], true)
        );
        assert_eq!(
            names(&["class 10", "b", "class 2", "a", "class 02x"]).0,
            ["a", "b", "class 2", "class 02x", "class 10"]
        );
        assert!(!names(&["7", "nan"]).1, "NaN is not a class value");
    }

    #[test]
    fn the_marker_shrinks_and_fades_with_n_but_stays_visible() {
        let area = 780.0 * 780.0;
        let sizes = [1797, 70_000, 1_000_000].map(|n| marker(n, area));
        assert!(sizes.windows(2).all(|p| p[1].0 < p[0].0 && p[1].1 < p[0].1), "{sizes:?}");
        assert!(sizes[0].0 >= 2.5 && sizes[0].1 >= 0.8, "few points are bold: {sizes:?}");
        assert!(sizes[2].0 >= 0.6 && sizes[2].1 >= 0.15, "a million stay visible: {sizes:?}");
    }

    #[test]
    fn the_categorical_palette_holds_forty_distinct_readable_colours() {
        assert_eq!(CATEGORICAL[..3], [[31, 119, 180], [255, 127, 14], [44, 160, 44]], "Tableau 10 first");
        for (i, a) in CATEGORICAL.iter().enumerate() {
            let light = 0.2126 * f64::from(a[0]) + 0.7152 * f64::from(a[1]) + 0.0722 * f64::from(a[2]);
            assert!(light < 215.0, "colour {i} is too light for white paper");
            for b in &CATEGORICAL[i + 1..] {
                let d: i32 = (0..3).map(|k| (i32::from(a[k]) - i32::from(b[k])).pow(2)).sum();
                assert!(d > 40 * 40, "{a:?} and {b:?} are too alike");
            }
        }
    }

    #[test]
    fn forty_classes_fit_the_legend_and_more_are_summarised() {
        let labels = |k: usize| (0..k).map(|i| format!("class {i}")).collect::<Vec<_>>();
        let scene = Scene::new(&opts("forty"), Some(&labels(40)), 40, 1).unwrap();
        let shape = scene.layout.legend.unwrap();
        assert_eq!(shape.shown, 40);
        assert!(shape.rows as f64 * shape.row_h <= f64::from(scene.layout.key.height()) + 1e-9);
        assert!(scene.layout.key.x0 > scene.layout.panels[0].x1, "the legend is outside the data");
        assert!(scene.layout.key.x1 <= 1000);
        let scene =
            Scene::new(&PlotOptions { size: (700, 500), ..opts("") }, Some(&labels(120)), 120, 1).unwrap();
        let shape = scene.layout.legend.unwrap();
        assert!(shape.shown < 120 && shape.shown + 1 == shape.rows * shape.cols, "{shape:?}");
    }

    #[test]
    fn three_columns_draw_three_equal_panels_side_by_side_with_one_legend() {
        let (y, labels) = sample(40, 3);
        let path = tmp("three.svg");
        let options = PlotOptions::for_dims("three", 3);
        scatter(&path, &y, Some(&labels), &options).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(circles(&svg).len(), 3 * 40 + 3);
        for axis in ["dimension 1", "dimension 2", "dimension 3"] {
            assert!(svg.contains(&format!(">\n{axis}\n<")), "{axis}");
        }
        let panels = Scene::new(&options, Some(&labels), 40, 3).unwrap().layout.panels;
        assert_eq!(panels.len(), 3);
        assert!(panels.windows(2).all(|p| p[0].x1 < p[1].x0 && p[0].width() == p[1].width()));
    }

    #[test]
    fn bad_extensions_and_other_dimensions_are_errors() {
        let (y2, _) = sample(10, 2);
        let err = scatter(&tmp("map.jpg"), &y2, None, &opts("")).unwrap_err().to_string();
        assert!(err.contains(".png or .svg"), "{err}");
        assert!(Format::of(Path::new("/t/.map.123.partial.SVG")).is_ok_and(|f| f == Format::Svg));
        for dims in [1, 4] {
            let y = Matrix::new(2, dims, vec![0.5; 2 * dims]).unwrap();
            let err = scatter(&tmp("dims.png"), &y, None, &opts("")).unwrap_err().to_string();
            assert!(err.contains("2 or 3 dimensions"), "{err}");
        }
        let short = vec!["a".to_string(); 9];
        let err = scatter(&tmp("labels.png"), &y2, Some(&short), &opts("")).unwrap_err().to_string();
        assert!(err.contains("9 labels for 10 points"), "{err}");
    }
}
