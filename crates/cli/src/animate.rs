//! Animations of an optimisation: the map drawn at chosen iterations, in the colours and
//! layout of [`plot::scatter`], with a view that zooms out smoothly as
//! the map grows; as one GIF ([`write_gif`]) or as numbered PNG frames ([`PngFrames`], drawn
//! one at a time from each frame's [`Extent`], in the views the GIF would use).
//!
//! A t-SNE map typically starts within about `1e-4` of the origin and ends some `±60` across,
//! growing fastest early on. Each frame's view is therefore not the frame's own extent (the
//! axes would jump, and the map would shrink whenever the points contract) but an eased one:
//! the scale never shrinks, never cuts a point off, is at most 2.5 times the largest extent so
//! far (so the map stays large), fits the first and (for a map that has stopped contracting)
//! last frames exactly, as [`plot::scatter`] fits a map, and in between
//! follows the smoothest path those bounds allow, in log scale.
//!
//! ```no_run
//! use tsne_cli::animate::{frame_iterations, write_gif, AnimationOptions, Frame};
//!
//! let keep = frame_iterations(1000, 100);
//! let frames: Vec<Frame> = keep
//!     .iter()
//!     .map(|&it| Frame { iteration: it, positions: vec![0.0, 0.0, it as f32, 1.0] })
//!     .collect();
//! write_gif(std::path::Path::new("run.gif"), &frames, None, &AnimationOptions::default())?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tsne::{Matrix, Progress};

use crate::plot::{self, frame_rgb, panel_axes, panel_points, PlotOptions, Rect, Rgb, Scene, View};

/// The smallest and the largest coordinates of a map's points.
type Bounds = ([f64; 2], [f64; 2]);

/// Frames [`frame_iterations`] picks by default: about 8 s at the default 8 cs per frame.
pub const DEFAULT_FRAMES: usize = 100;

/// The map at one iteration: `positions` holds `n` (x, y) pairs, row-major, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The iteration shown in the caption (0 for the initial positions).
    pub iteration: usize,
    /// `x0, y0, x1, y1, ...`: the first two coordinates of every point.
    pub positions: Vec<f32>,
}

impl Frame {
    /// The first two columns of `y` at `iteration`; an error for a 1-column `y`.
    pub fn from_matrix(iteration: usize, y: &Matrix) -> Result<Frame> {
        if y.cols() < 2 {
            bail!("an animation frame needs 2 coordinates per point, this embedding has {}", y.cols());
        }
        let positions = (0..y.rows()).flat_map(|i| [y.row(i)[0] as f32, y.row(i)[1] as f32]).collect();
        Ok(Frame { iteration, positions })
    }

    /// The positions a run reports in its callback, in input order (first two columns).
    pub fn from_progress(p: &Progress<'_>) -> Result<Frame> {
        if p.embedding.cols() < 2 {
            bail!("an animation frame needs 2 coordinates per point, this run has {}", p.embedding.cols());
        }
        let positions =
            (0..p.embedding.rows()).flat_map(|i| [p.position(i)[0] as f32, p.position(i)[1] as f32]);
        Ok(Frame { iteration: p.iteration, positions: positions.collect() })
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.positions.len() / 2
    }

    /// Whether the frame has no points.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    fn xy(&self) -> Vec<[f64; 2]> {
        self.positions.chunks_exact(2).map(|p| [f64::from(p[0]), f64::from(p[1])]).collect()
    }
}

/// How [`write_gif`] draws and times the frames.
#[derive(Debug, Clone, PartialEq)]
pub struct AnimationOptions {
    /// Drawn centred above the map; empty for none.
    pub title: String,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// How long each frame shows, in hundredths of a second (GIF's unit).
    pub frame_delay_cs: u16,
    /// How long the last frame shows (at least one frame delay).
    pub final_hold_cs: u16,
    /// Loop forever (else play once).
    pub repeat: bool,
}

impl Default for AnimationOptions {
    /// No title, 800 x 720, 8 cs a frame (12.5 frames per second, so [`DEFAULT_FRAMES`] last
    /// 8 s), the last frame held 2.5 s, looping.
    fn default() -> Self {
        Self { title: String::new(), size: (800, 720), frame_delay_cs: 8, final_hold_cs: 250, repeat: true }
    }
}

/// The iterations worth capturing for a run of `total` iterations: at most `max_frames` (but
/// at least 2; every iteration when `total + 1` fit), always `0` and `total`, sorted, distinct.
///
/// They are spaced quadratically, `total * (k / (m - 1))^2` (pushed apart to stay distinct),
/// so they are densest where the map changes fastest: half of the frames fall in the first
/// quarter of the run, which with the usual 1000 iterations is the early-exaggeration phase
/// (250 iterations) where the clusters form; the second half shows the slower expansion.
pub fn frame_iterations(total: usize, max_frames: usize) -> Vec<usize> {
    let m = max_frames.max(2);
    if m > total {
        return (0..=total).collect();
    }
    let mut out: Vec<usize> = Vec::with_capacity(m);
    for k in 0..m {
        let u = k as f64 / (m - 1) as f64;
        let q = (total as f64 * u * u).round() as usize;
        out.push(match out.last() {
            Some(&prev) => q.max(prev + 1),
            None => q,
        });
    }
    out
}

/// Writes `frames` as a GIF at `path` (which must end in `.gif`): one picture per frame with
/// the caption "iteration N", colours and legend as in [`plot::scatter`]
/// (`labels` one per point), eased views (see the module documentation), and the last frame
/// held for [`AnimationOptions::final_hold_cs`].
///
/// The palette is fixed (the class colours blended with white at several strengths, and
/// greys), so no per-frame quantisation is needed; each frame stores only the rectangle that
/// changed, with unchanged pixels transparent.
pub fn write_gif(
    path: &Path,
    frames: &[Frame],
    labels: Option<&[String]>,
    options: &AnimationOptions,
) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext != "gif" {
        bail!("cannot animate to {}: the file name must end in .gif", path.display());
    }
    let n = check_frames(frames)?;
    let (w, h) = gif_size(options.size)?;
    let plot_options =
        PlotOptions { title: options.title.clone(), size: options.size, ..PlotOptions::default() };
    let scene = Scene::new(&plot_options, labels, n, 1)?;
    let rect = scene.layout.panels[0];
    let xys: Vec<Vec<[f64; 2]>> = frames.iter().map(Frame::xy).collect();
    let bounds: Vec<Option<Bounds>> = xys.iter().map(|xy| plot::bounds(xy)).collect();
    let views = eased_views(&bounds, &rect);
    let palette = Palette::new(&scene.colouring.base_colours());
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = gif::Encoder::new(BufWriter::new(file), w, h, &palette.rgb)?;
    if options.repeat {
        encoder.set_repeat(gif::Repeat::Infinite)?;
    }
    let mut previous: Option<Vec<u8>> = None;
    for (i, (xy, view)) in xys.into_iter().zip(views).enumerate() {
        let caption = format!("iteration {}", frames[i].iteration);
        let indexed = palette.index(&frame_rgb(&scene, vec![((0, 1), xy)], &[view], &caption)?);
        let last = i + 1 == frames.len();
        let delay =
            if last { options.final_hold_cs.max(options.frame_delay_cs) } else { options.frame_delay_cs };
        encoder.write_frame(&delta_frame(previous.as_deref(), &indexed, (w, h), delay))?;
        previous = Some(indexed);
    }
    encoder.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

/// The number of points, after checking that there are frames and all have as many points.
fn check_frames(frames: &[Frame]) -> Result<usize> {
    let Some(first) = frames.first() else { bail!("an animation needs at least one frame") };
    if first.positions.len() % 2 != 0 {
        bail!("frame positions must be (x, y) pairs, got {} numbers", first.positions.len());
    }
    if let Some(f) = frames.iter().find(|f| f.positions.len() != first.positions.len()) {
        bail!("frame of iteration {} has {} points, the first has {}", f.iteration, f.len(), first.len());
    }
    Ok(first.len())
}

fn gif_size(size: (u32, u32)) -> Result<(u16, u16)> {
    match (u16::try_from(size.0), u16::try_from(size.1)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => bail!("a GIF is at most 65535 pixels wide and high, not {}x{}", size.0, size.1),
    }
}

/// How much larger than needed an eased view may be (in log scale: 2.5 times): the map then
/// always spans at least 40% of the frame.
const LEAD: f64 = 0.916_290_731_874_155; // ln 2.5

/// The view in `rect` of every frame, given by the bounds of its points (`None`: no finite
/// point): the centres of the bounds smoothed over five frames (fewer towards either end, so
/// the first and last frames are centred on their own points), and a scale that never
/// shrinks, always shows every point, is at most [`LEAD`] times the largest extent so far and
/// never beyond the last frame's, fits the first frame exactly, and is otherwise as smooth
/// (in log scale) as those bounds allow. A sudden jump in extent can only be spread over the
/// frames before it by the lead, so it still shows as a (smaller) jump.
pub(crate) fn eased_views(bounds: &[Option<Bounds>], rect: &Rect) -> Vec<View> {
    let raw: Vec<[f64; 2]> = bounds
        .iter()
        .map(|b| b.map_or([0.0; 2], |(lo, hi)| [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0]))
        .collect();
    let last = raw.len().saturating_sub(1);
    let centres: Vec<[f64; 2]> = (0..raw.len())
        .map(|i| {
            let half = i.min(last - i).min(2);
            let part = &raw[i - half..=i + half];
            let sum = part.iter().fold([0.0; 2], |s, c| [s[0] + c[0], s[1] + c[1]]);
            [sum[0] / part.len() as f64, sum[1] / part.len() as f64]
        })
        .collect();
    let need: Vec<f64> = bounds.iter().zip(&centres).map(|(b, &c)| needed_upp(*b, c, rect).ln()).collect();
    let eased = ease(&need, LEAD);
    centres.into_iter().zip(eased).map(|(centre, l)| View { centre, upp: l.exp() }).collect()
}

/// A smooth non-decreasing path through the tube from the running maximum `m` of `need` to
/// `m + lead`, never above the last frame's `m` and pinned to `m` at the first frame: repeated
/// 5-frame averaging, each pass clamped back into the tube. Averages and clamps of
/// non-decreasing sequences stay non-decreasing. The pinned first frame is left out of the
/// others' averages when the next one needs over `lead` more (a run's start, some `1e-4`
/// across, and the map ten or fifty iterations later): no path can ease that jump, and it
/// should not bend the path after it.
pub(crate) fn ease(need: &[f64], lead: f64) -> Vec<f64> {
    let mut floor = need.to_vec();
    for i in 1..floor.len() {
        floor[i] = floor[i].max(floor[i - 1]);
    }
    let end = floor.last().copied().unwrap_or(0.0);
    let ceil: Vec<f64> =
        floor.iter().enumerate().map(|(i, f)| if i == 0 { *f } else { (f + lead).min(end) }).collect();
    let mut path: Vec<f64> = floor.iter().zip(&ceil).map(|(f, c)| (f + c) / 2.0).collect();
    let detached = usize::from(floor.len() > 1 && floor[1] - floor[0] > lead);
    for _ in 0..200 {
        path = (0..path.len())
            .map(|i| {
                let part = &path[i.saturating_sub(2).max(detached).min(i)..(i + 3).min(path.len())];
                let mean = part.iter().sum::<f64>() / part.len() as f64;
                mean.clamp(floor[i], ceil[i])
            })
            .collect();
    }
    path
}

/// Data units per pixel that fit points within `bounds` in `rect` around `centre`, with a 4%
/// margin.
fn needed_upp(bounds: Option<Bounds>, centre: [f64; 2], rect: &Rect) -> f64 {
    let (hw, hh) = (f64::from(rect.width()) / 2.0, f64::from(rect.height()) / 2.0);
    let far = bounds.map_or(0.0, |(lo, hi)| {
        let reach = |c: usize| (hi[c] - centre[c]).max(centre[c] - lo[c]);
        (reach(0) / hw).max(reach(1) / hh)
    });
    (far * 1.08).max(1e-12)
}

/// What the eased views need of one frame: its number of points and the smallest and
/// largest finite value of each of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    rows: usize,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Extent {
    /// The extent of the positions `y` (one row per point).
    pub fn of(y: &Matrix) -> Extent {
        let (mut lo, mut hi) = (vec![f64::INFINITY; y.cols()], vec![f64::NEG_INFINITY; y.cols()]);
        for i in 0..y.rows() {
            for (c, &v) in y.row(i).iter().enumerate().filter(|(_, v)| v.is_finite()) {
                (lo[c], hi[c]) = (lo[c].min(v), hi[c].max(v));
            }
        }
        Extent { rows: y.rows(), lo, hi }
    }

    /// The bounds of the points along columns `a` and `b`, `None` when there are none.
    fn bounds(&self, (a, b): (usize, usize)) -> Option<Bounds> {
        let found = self.lo[a] <= self.hi[a] && self.lo[b] <= self.hi[b];
        found.then_some(([self.lo[a], self.lo[b]], [self.hi[a], self.hi[b]]))
    }
}

/// The numbered PNG frames of a run, drawn one at a time after it in the eased views
/// [`write_gif`] would use, so that only one frame's positions need be in memory. Each frame
/// is drawn as [`plot::scatter`] draws with the same options and labels (colours, legend,
/// size; a 3-D map as its three panels, at one scale), captioned "iteration N" right of the
/// title; the last is the final map's view (unless the map contracted at the end).
#[derive(Debug)]
pub struct PngFrames {
    scene: Scene,
    dims: usize,
    /// Per frame, the view of each panel.
    views: Vec<Vec<View>>,
}

impl PngFrames {
    /// The frames whose positions have `extents`, in order: at least one, all of as many
    /// points and of 2 or 3 columns. Errors where [`plot::scatter`] would (`labels` not one
    /// per point, an image too small).
    pub fn new(options: &PlotOptions, labels: Option<&[String]>, extents: &[Extent]) -> Result<PngFrames> {
        let Some(first) = extents.first() else { bail!("an animation needs at least one frame") };
        let (n, dims) = (first.rows, first.lo.len());
        if let Some(e) = extents.iter().find(|e| (e.rows, e.lo.len()) != (n, dims)) {
            bail!("a frame of {} x {} after one of {n} x {dims}", e.rows, e.lo.len());
        }
        let pairs = panel_axes(dims)?;
        let scene = Scene::new(options, labels, n, pairs.len())?;
        let eased: Vec<Vec<View>> = pairs
            .iter()
            .zip(&scene.layout.panels)
            .map(|(&pair, rect)| {
                eased_views(&extents.iter().map(|e| e.bounds(pair)).collect::<Vec<_>>(), rect)
            })
            .collect();
        let views = (0..extents.len())
            .map(|k| {
                let upp = eased.iter().map(|v| v[k].upp).fold(0.0, f64::max);
                eased.iter().map(|v| View { upp, ..v[k] }).collect()
            })
            .collect();
        Ok(PngFrames { scene, dims, views })
    }

    /// Writes frame `k` (of the extents given to [`PngFrames::new`]), whose positions are `y`,
    /// as a PNG at `path` captioned "iteration `iteration`".
    pub fn write(&self, path: &Path, k: usize, iteration: usize, y: &Matrix) -> Result<()> {
        let Some(views) = self.views.get(k) else { bail!("no frame {k} of {}", self.views.len()) };
        if (y.rows(), y.cols()) != (self.scene.order.len(), self.dims) {
            bail!(
                "frame {k} is {} x {}, its extent was of {} x {}",
                y.rows(),
                y.cols(),
                self.scene.order.len(),
                self.dims
            );
        }
        if plot::Format::of(path)? != plot::Format::Png {
            bail!("cannot write frame {k} to {}: the file name must end in .png", path.display());
        }
        let rgb = frame_rgb(&self.scene, panel_points(y)?, views, &format!("iteration {iteration}"))?;
        plot::write_png(path, self.scene.size, &rgb)
    }
}

/// A fixed 256-colour palette and a lookup table from 15-bit RGB to its nearest entry.
struct Palette {
    /// 256 RGB triples.
    rgb: Vec<u8>,
    /// Nearest entry for each `(r >> 3, g >> 3, b >> 3)`.
    lut: Vec<u8>,
}

/// The index kept for "unchanged since the previous frame".
const TRANSPARENT: u8 = 255;

impl Palette {
    /// White, 23 greys, and each of `base` (up to 40 used) mixed with white at 5 to 8
    /// strengths up to the pure colour; entry 255 stays free for transparency.
    fn new(base: &[Rgb]) -> Palette {
        let mut entries: Vec<Rgb> = (0..24).map(|i| [(255 - i * 11) as u8; 3]).collect();
        let base = &base[..base.len().min(40)];
        let levels = (231 / base.len().max(1)).clamp(1, 8);
        for c in base {
            for j in 1..=levels {
                let t = j as f64 / levels as f64;
                let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * t).round() as u8;
                entries.push([mix(c[0]), mix(c[1]), mix(c[2])]);
            }
        }
        let mut lut: Vec<u8> = (0..1usize << 15)
            .map(|cell| {
                let centre =
                    [(cell >> 10) as u8, (cell >> 5 & 31) as u8, (cell & 31) as u8].map(|v| v << 3 | 4);
                nearest(&entries, centre)
            })
            .collect();
        for (i, e) in entries.iter().enumerate() {
            lut[cell(e[0], e[1], e[2])] = i as u8;
        }
        let mut rgb: Vec<u8> = entries.iter().flatten().copied().collect();
        rgb.resize(256 * 3, 255);
        Palette { rgb, lut }
    }

    /// The palette index of every pixel of an RGB buffer.
    fn index(&self, rgb: &[u8]) -> Vec<u8> {
        rgb.chunks_exact(3).map(|p| self.lut[cell(p[0], p[1], p[2])]).collect()
    }
}

fn cell(r: u8, g: u8, b: u8) -> usize {
    usize::from(r >> 3) << 10 | usize::from(g >> 3) << 5 | usize::from(b >> 3)
}

/// The index of the entry closest to `c` (squared distance weighted 2:4:3 for R:G:B).
fn nearest(entries: &[Rgb], c: Rgb) -> u8 {
    let d = |e: &Rgb| {
        let dd = |k: usize| (i32::from(e[k]) - i32::from(c[k])).pow(2);
        2 * dd(0) + 4 * dd(1) + 3 * dd(2)
    };
    (0..entries.len()).min_by_key(|&i| d(&entries[i])).unwrap_or(0) as u8
}

/// The part of `cur` that differs from `prev` (all of it for the first frame) as a GIF frame
/// drawn over the previous one, unchanged pixels transparent.
fn delta_frame(prev: Option<&[u8]>, cur: &[u8], (w, h): (u16, u16), delay: u16) -> gif::Frame<'static> {
    let base = gif::Frame { delay, ..gif::Frame::default() };
    let Some(prev) = prev else {
        return gif::Frame { width: w, height: h, buffer: cur.to_vec().into(), ..base };
    };
    let (wu, hu) = (usize::from(w), usize::from(h));
    let changed = |y: usize| prev[y * wu..(y + 1) * wu] != cur[y * wu..(y + 1) * wu];
    let Some(top) = (0..hu).find(|&y| changed(y)) else {
        let buffer = vec![TRANSPARENT].into();
        return gif::Frame { width: 1, height: 1, transparent: Some(TRANSPARENT), buffer, ..base };
    };
    let bottom = (0..hu).rev().find(|&y| changed(y)).unwrap_or(top);
    let columns = |y: usize| (0..wu).filter(move |&x| prev[y * wu + x] != cur[y * wu + x]);
    let left = (top..=bottom).filter_map(|y| columns(y).next()).min().unwrap_or(0);
    let right =
        (top..=bottom).filter_map(|y| (0..wu).rev().find(|&x| prev[y * wu + x] != cur[y * wu + x])).max();
    let right = right.unwrap_or(wu - 1);
    let mut buffer = Vec::with_capacity((right - left + 1) * (bottom - top + 1));
    for y in top..=bottom {
        for x in left..=right {
            let i = y * wu + x;
            buffer.push(if prev[i] == cur[i] { TRANSPARENT } else { cur[i] });
        }
    }
    gif::Frame {
        left: left as u16,
        top: top as u16,
        width: (right - left + 1) as u16,
        height: (bottom - top + 1) as u16,
        transparent: Some(TRANSPARENT),
        buffer: buffer.into(),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{render_rgb, Panel};

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tsne-animate-{}-{name}", std::process::id()))
    }

    /// `n` points on a spiral in three classes, scaled by `scale` (frames of a growing map).
    fn frames(n: usize, scales: &[f64]) -> Vec<Frame> {
        scales
            .iter()
            .enumerate()
            .map(|(k, &s)| {
                let positions = (0..n)
                    .flat_map(|i| {
                        let t = i as f64 * 0.37 + k as f64 * 0.05;
                        [(s * t.cos() * (1.0 + t / 20.0)) as f32, (0.6 * s * t.sin()) as f32]
                    })
                    .collect();
                Frame { iteration: k * 10, positions }
            })
            .collect()
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("class {}", i % 3)).collect()
    }

    #[test]
    fn frame_iterations_keep_both_ends_and_crowd_the_start() {
        let it = frame_iterations(1000, 100);
        assert_eq!((it.len(), it[0], it[99]), (100, 0, 1000));
        assert!(it.windows(2).all(|w| w[0] < w[1]));
        assert!(it[50] <= 300, "half of the frames within the first 30%: {}", it[50]);
        let (early, late) = (it[10] - it[9], it[99] - it[98]);
        assert!(early * 5 < late, "gaps {early} early, {late} late");
        assert_eq!(frame_iterations(10, 100), (0..=10).collect::<Vec<_>>());
        assert_eq!(frame_iterations(120, 120).len(), 120);
        assert_eq!(frame_iterations(5, 0), [0, 5]);
    }

    #[test]
    fn eased_views_only_zoom_out_show_every_point_and_keep_the_map_large() {
        // 1e-4 growing to 60, with a contraction and a sudden jump on the way.
        let mut scales: Vec<f64> = (0..60).map(|k| 1e-4 * (6e5f64).powf(f64::from(k) / 59.0)).collect();
        scales[20] = scales[19] * 0.5;
        scales[40] = scales[41];
        let xys: Vec<Vec<[f64; 2]>> = frames(200, &scales).iter().map(Frame::xy).collect();
        let rect = Rect { x0: 60, y0: 40, x1: 660, y1: 560 };
        let bounds: Vec<Option<Bounds>> = xys.iter().map(|xy| plot::bounds(xy)).collect();
        let views = eased_views(&bounds, &rect);
        let needed: Vec<f64> =
            bounds.iter().zip(&views).map(|(b, v)| needed_upp(*b, v.centre, &rect)).collect();
        let mut running = 0.0f64;
        for (i, (v, xy)) in views.iter().zip(&xys).enumerate() {
            assert!(i == 0 || v.upp >= views[i - 1].upp, "frame {i} zooms in");
            assert!(
                xy.iter().all(|&p| {
                    let [x, y] = v.pixel(&rect, p);
                    rect.contains(x, y)
                }),
                "frame {i} cuts points"
            );
            running = running.max(needed[i]);
            assert!(v.upp <= running * 2.5 * (1.0 + 1e-9), "frame {i}: the map is too small");
        }
        assert!((views[0].upp / needed[0] - 1.0).abs() < 1e-9, "the first frame is tight");
        assert!((views[59].upp / needed[59] - 1.0).abs() < 1e-9, "the last frame is tight");
    }

    #[test]
    fn easing_spreads_a_sudden_growth_over_several_frames() {
        let need: Vec<f64> = (0..40).map(|i| if i < 20 { 0.0 } else { 3.0 }).collect();
        let eased = ease(&need, LEAD);
        let steps: Vec<f64> = eased.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|&s| s >= 0.0));
        let biggest = steps.iter().copied().fold(0.0, f64::max);
        assert!(biggest < 3.0 - LEAD + 1e-9, "a step of {biggest} for a jump of 3");
        assert!(steps.iter().filter(|&&s| s > 0.05).count() >= 3, "{steps:?}");
        let smooth: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1).collect();
        let followed = ease(&smooth, LEAD);
        assert!(followed.iter().zip(&smooth).all(|(e, s)| e >= s && *e <= s + LEAD + 1e-9));
    }

    /// A decoded GIF: its size, global palette and every frame as (delay, composited indices).
    struct Decoded {
        size: (u16, u16),
        palette: Vec<u8>,
        frames: Vec<(u16, Vec<u8>)>,
    }

    fn decode_gif(path: &Path) -> Decoded {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut d = options.read_info(File::open(path).unwrap()).unwrap();
        let (w, h) = (d.width(), d.height());
        let palette = d.global_palette().unwrap().to_vec();
        let mut canvas = vec![0u8; usize::from(w) * usize::from(h)];
        let mut frames = Vec::new();
        while let Some(f) = d.read_next_frame().unwrap() {
            let fw = usize::from(f.width);
            for (k, &px) in f.buffer.iter().enumerate() {
                if Some(px) != f.transparent {
                    let (x, y) = (usize::from(f.left) + k % fw, usize::from(f.top) + k / fw);
                    canvas[y * usize::from(w) + x] = px;
                }
            }
            frames.push((f.delay, canvas.clone()));
        }
        Decoded { size: (w, h), palette, frames }
    }

    #[test]
    fn a_gif_holds_every_frame_in_the_plot_colours_and_holds_the_last() {
        let scales = [1e-4, 1e-3, 0.05, 2.0, 30.0, 60.0];
        let (frames, labels) = (frames(150, &scales), labels(150));
        let path = tmp("run.gif");
        let options =
            AnimationOptions { size: (480, 400), title: "run".into(), ..AnimationOptions::default() };
        write_gif(&path, &frames, Some(&labels), &options).unwrap();
        let Decoded { size, palette, frames: decoded } = decode_gif(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!((size, decoded.len()), ((480, 400), 6));
        let delays: Vec<u16> = decoded.iter().map(|f| f.0).collect();
        assert_eq!(delays, [8, 8, 8, 8, 8, 250]);
        let scene = Scene::new(
            &PlotOptions { size: (480, 400), title: "run".into(), ..PlotOptions::default() },
            Some(&labels),
            150,
            1,
        )
        .unwrap();
        let p = Palette::new(&scene.colouring.base_colours());
        assert_eq!(palette, p.rgb);
        let xys: Vec<Vec<[f64; 2]>> = frames.iter().map(Frame::xy).collect();
        let bounds: Vec<Option<Bounds>> = xys.iter().map(|xy| plot::bounds(xy)).collect();
        let views = eased_views(&bounds, &scene.layout.panels[0]);
        for k in [0, 3, 5] {
            let panel = Panel { xy: xys[k].clone(), axes: (0, 1), view: views[k] };
            let caption = format!("iteration {}", frames[k].iteration);
            let expected = p.index(&render_rgb(&scene, &[panel], Some(&caption)).unwrap());
            assert!(expected == decoded[k].1, "frame {k} does not composite to its picture");
        }
        let key = scene.layout.key;
        for c in &scene.colouring.base_colours()[..3] {
            let index = p.lut[cell(c[0], c[1], c[2])];
            assert_eq!(&p.rgb[usize::from(index) * 3..usize::from(index) * 3 + 3], c, "exact legend colour");
            let in_key = decoded[0]
                .1
                .iter()
                .enumerate()
                .any(|(i, &v)| v == index && (key.x0..key.x1).contains(&((i % 480) as i32)));
            assert!(in_key, "legend colour {c:?} beside the map");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let good = frames(10, &[1.0, 2.0]);
        let o = AnimationOptions::default();
        assert!(write_gif(&tmp("none.gif"), &[], None, &o)
            .unwrap_err()
            .to_string()
            .contains("at least one frame"));
        assert!(write_gif(&tmp("run.png"), &good, None, &o).unwrap_err().to_string().contains(".gif"));
        let mut uneven = good.clone();
        uneven[1].positions.truncate(8);
        assert!(write_gif(&tmp("uneven.gif"), &uneven, None, &o)
            .unwrap_err()
            .to_string()
            .contains("has 4 points"));
        let err = write_gif(&tmp("labels.gif"), &good, Some(&labels(9)), &o).unwrap_err().to_string();
        assert!(err.contains("9 labels for 10 points"), "{err}");
        let flat = Matrix::new(2, 1, vec![0.0, 1.0]).unwrap();
        assert!(Frame::from_matrix(0, &flat).is_err());
        let p = PlotOptions::default();
        assert!(PngFrames::new(&p, None, &[]).unwrap_err().to_string().contains("at least one frame"));
        let two = Matrix::new(2, 2, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let three = Matrix::new(1, 3, vec![0.0, 1.0, 2.0]).unwrap();
        let mixed = PngFrames::new(&p, None, &[Extent::of(&two), Extent::of(&three)]);
        assert!(mixed.unwrap_err().to_string().contains("1 x 3 after one of 2 x 2"));
        assert!(PngFrames::new(&p, None, &[Extent::of(&flat)]).unwrap_err().to_string().contains("2 or 3"));
        let frames = PngFrames::new(&p, None, &[Extent::of(&two)]).unwrap();
        assert!(frames.write(&tmp("f.png"), 0, 0, &three).unwrap_err().to_string().contains("1 x 3"));
        assert!(frames.write(&tmp("f.png"), 1, 0, &two).unwrap_err().to_string().contains("no frame 1"));
        assert!(frames.write(&tmp("f.svg"), 0, 0, &two).unwrap_err().to_string().contains(".png"));
    }

    #[test]
    fn a_tiny_start_does_not_bend_the_path_after_it() {
        // The start 3,000 times smaller than the next frame, then a jump of 3x at frame 3.
        let mut need = vec![-8.0, 0.0, -0.7];
        need.extend((0..30).map(|i| 1.1 + 0.08 * f64::from(i)));
        let eased = ease(&need, LEAD);
        assert_eq!(eased[0], -8.0, "the start is pinned");
        let steps: Vec<f64> = eased.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|&s| (0.0..0.45).contains(&s)), "{steps:?}");
    }
}
