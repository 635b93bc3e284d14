//! The page: `assets/viewer.html` with the style, the script and the data put in.

use crate::colours::{json, CATEGORICAL, VIRIDIS};

/// The page's template; `{{NAME}}` marks where a part goes.
static TEMPLATE: &str = include_str!("../assets/viewer.html");
/// The page's style.
static CSS: &str = include_str!("../assets/viewer.css");
/// The page's script.
static JS: &str = include_str!("../assets/viewer.js");

/// The opening tag of the data element; the base64 text follows up to the next `<`.
pub(crate) const DATA_OPEN: &str = r#"<script type="application/octet-stream" id="tsne-data">"#;

/// The page of `title` with the base64 `data`.
pub(crate) fn render(title: &str, data: &str) -> String {
    let data = format!("{DATA_OPEN}{data}</script>");
    let colours = [("PALETTE", json(&CATEGORICAL)), ("VIRIDIS", json(&VIRIDIS))];
    let js = fill(JS, &colours.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    fill(TEMPLATE, &[("TITLE", &escape(title)), ("CSS", CSS), ("JS", &js), ("DATA", &data)])
}

/// `template` with each `{{KEY}}` replaced by its value, in one pass: a value is never read
/// for markers itself (a title of `{{JS}}` stays text). Unknown markers are kept.
fn fill(template: &str, parts: &[(&str, &str)]) -> String {
    let extra: usize = parts.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let part = after.find("}}").and_then(|end| {
            let key = &after[..end];
            parts.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v, end + 2))
        });
        match part {
            Some((value, skip)) => {
                out.push_str(value);
                rest = &after[skip..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` safe inside an HTML element or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inline script and style cannot end their elements early, and the template holds
    /// each marker once.
    #[test]
    fn the_assets_are_safe_to_inline() {
        assert!(!JS.to_ascii_lowercase().contains("</script"));
        assert!(!CSS.to_ascii_lowercase().contains("</style"));
        for key in ["TITLE", "CSS", "JS", "DATA"] {
            assert!(TEMPLATE.matches(&format!("{{{{{key}}}}}")).count() >= 1, "{key}");
        }
        assert_eq!(TEMPLATE.matches("{{JS}}").count(), 1);
        // The script's colours are the plots': each marker once, filled in.
        for key in ["{{PALETTE}}", "{{VIRIDIS}}"] {
            assert_eq!(JS.matches(key).count(), 1, "{key}");
        }
        let page = render("t", "");
        assert!(page.contains(&format!("JSON.parse('{}')", json(&CATEGORICAL))));
        assert!(page.contains(&format!("JSON.parse('{}')", json(&VIRIDIS))));
        assert!(!page.contains("{{PALETTE}}") && !page.contains("{{VIRIDIS}}"));
    }

    #[test]
    fn values_are_not_filled_again() {
        let page = fill("<t>{{TITLE}}</t>{{JS}}{{NOPE}}", &[("TITLE", "{{JS}}"), ("JS", "x")]);
        assert_eq!(page, "<t>{{JS}}</t>x{{NOPE}}");
        assert_eq!(escape(r#"</script><b x="1">'&"#), "&lt;/script&gt;&lt;b x=&quot;1&quot;&gt;&#39;&amp;");
    }
}
