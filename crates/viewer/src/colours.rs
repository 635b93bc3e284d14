//! The colours of every map this project draws: the page's and the CLI's PNG and SVG plots
//! (`tsne_cli::plot`). The page's script receives them from here (`{{PALETTE}}`, `{{VIRIDIS}}`).

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Tableau 10 (Tableau's default categorical palette, matplotlib's `tab10`) followed by the
/// colours Glasbey's algorithm picks as maximally distinct from it and from each other, in the
/// order of colorcet's `glasbey_category10` (C. Glasbey, G. van der Heijden, V. Toh, A. Gray,
/// "Colour displays for categorical images", Color Research & Application 32(4), 2007), keeping
/// only those dark enough to read on white (CIE L* <= 80): 40 colours.
#[rustfmt::skip]
pub const CATEGORICAL: [Rgb; 40] = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    [58, 1, 131], [0, 67, 1], [73, 0, 0], [125, 0, 109], [188, 188, 255],
    [0, 62, 74], [216, 175, 162], [107, 101, 0], [0, 116, 88], [97, 38, 255],
    [58, 38, 53], [140, 184, 148], [205, 0, 129], [74, 50, 0], [86, 83, 113],
    [143, 0, 44], [173, 137, 68], [0, 0, 55], [255, 111, 118], [121, 140, 255],
    [221, 0, 255], [128, 0, 190], [82, 86, 73], [0, 0, 220], [24, 38, 24],
    [175, 152, 181], [183, 87, 0], [2, 112, 0], [205, 136, 255], [29, 214, 70],
];

/// matplotlib's viridis (S. van der Walt, N. Smith, 2015) at ten evenly spaced stops.
#[rustfmt::skip]
pub const VIRIDIS: [Rgb; 10] = [
    [0x44, 0x01, 0x54], [0x48, 0x28, 0x78], [0x3e, 0x49, 0x89], [0x31, 0x68, 0x8e],
    [0x26, 0x82, 0x8e], [0x1f, 0x9e, 0x89], [0x35, 0xb7, 0x79], [0x6e, 0xce, 0x58],
    [0xb5, 0xde, 0x2b], [0xfd, 0xe7, 0x25],
];

/// The colours as a JSON array of `[r, g, b]` triples (the page script's form).
pub(crate) fn json(colours: &[Rgb]) -> String {
    let triples: Vec<String> = colours.iter().map(|[r, g, b]| format!("[{r},{g},{b}]")).collect();
    format!("[{}]", triples.join(","))
}
