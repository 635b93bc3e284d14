//! The committed test page (`assets/test.html`) is what `examples/test_page.rs` writes now,
//! so hand checks and browser tests see the current script.

#[allow(dead_code)] // its `main` writes the file; the test only compares
#[path = "../examples/test_page.rs"]
mod example;

#[test]
fn the_test_page_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("test.html");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = example::test_map().unwrap().html();
    assert!(
        committed == current,
        "{} is out of date: regenerate it with `cargo run -p tsne-viewer --example test_page`",
        path.display()
    );
    let decoded = tsne_viewer::decode(&current).unwrap();
    assert_eq!(decoded.positions.len(), 2 * 600);
    assert_eq!(decoded.columns.len(), 2);
    assert_eq!(decoded.frames.len(), 4);
}
