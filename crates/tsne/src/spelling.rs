//! How library messages name what a user sets, so that each front end can say it in its own
//! spelling: a setting as `` `name` `` (the builder method, e.g. `` `max_memory` ``) and a choice
//! of a stage as `` `Type::Variant` `` (e.g. `` `RepulsionMethod::BarnesHut` ``), in backticks.
//! [`respell`] rewrites those terms; the CLI turns them into flags, the Python package into
//! keywords.
//!
//! ```
//! use tsne::spelling::{respell, Term};
//!
//! let message = "raise `max_memory`, or use `RepulsionMethod::BarnesHut`";
//! let cli = respell(message, |term| match term {
//!     Term::Setting(name) => Some(format!("--{}", name.replace('_', "-"))),
//!     Term::Choice { setting, name } => Some(format!("--{setting} {name}")),
//! });
//! assert_eq!(cli, "raise --max-memory, or use --repulsion barnes_hut");
//! ```

use crate::methods::{Init, NeighborMethod, RepulsionMethod};
use crate::Metric;

/// A term of a library message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term<'a> {
    /// A setting by its builder name, e.g. `perplexity`.
    Setting(&'a str),
    /// A method of a stage, named as its `FromStr` reads it.
    Choice {
        /// The setting: `repulsion`, `neighbors`, `init` or `metric`.
        setting: &'static str,
        /// The method's name, e.g. `barnes_hut`.
        name: &'a str,
    },
}

/// The setting each enum of choices belongs to, and the names its `FromStr` reads.
const CHOICES: &[(&str, &str, &[&str])] = &[
    ("RepulsionMethod", "repulsion", RepulsionMethod::NAMES),
    ("NeighborMethod", "neighbors", NeighborMethod::NAMES),
    ("Init", "init", Init::NAMES),
    ("Metric", "metric", Metric::NAMES),
];

/// The term a backticked word of a message stands for; `None` for anything else (a value,
/// a type of no setting).
pub fn term(word: &str) -> Option<Term<'_>> {
    if let Some((ty, variant)) = word.split_once("::") {
        let (_, setting, names) = CHOICES.iter().find(|(t, ..)| *t == ty)?;
        let flat = variant.to_ascii_lowercase();
        let name = names.iter().find(|n| n.replace('_', "") == flat)?;
        return Some(Term::Choice { setting, name });
    }
    let is_name = !word.is_empty()
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    is_name.then_some(Term::Setting(word))
}

/// `message` with every backticked term that `spell` names replaced by its spelling (without
/// the backticks); other backticked words stay as they are.
pub fn respell(message: &str, spell: impl Fn(Term<'_>) -> Option<String>) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else { break };
        let word = &rest[open + 1..open + 1 + len];
        out.push_str(&rest[..open]);
        match term(word).and_then(&spell) {
            Some(spelled) => out.push_str(&spelled),
            None => {
                out.push('`');
                out.push_str(word);
                out.push('`');
            }
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_read_by_their_enum_names() {
        assert_eq!(
            term("RepulsionMethod::BarnesHut"),
            Some(Term::Choice { setting: "repulsion", name: "barnes_hut" })
        );
        assert_eq!(
            term("NeighborMethod::NnDescent"),
            Some(Term::Choice { setting: "neighbors", name: "nndescent" })
        );
        assert_eq!(term("Init::Spectral"), Some(Term::Choice { setting: "init", name: "spectral" }));
        assert_eq!(term("Metric::Cosine"), Some(Term::Choice { setting: "metric", name: "cosine" }));
        assert_eq!(term("Init::Given"), None);
        assert_eq!(term("Matrix::new"), None);
        assert_eq!(term("max_memory"), Some(Term::Setting("max_memory")));
        assert_eq!(term("1.5"), None);
        assert_eq!(term("NaN"), None);
    }

    #[test]
    fn only_spelled_terms_change() {
        let spell = |t: Term<'_>| match t {
            Term::Setting("perplexity") => Some("--perplexity".to_string()),
            Term::Choice { setting, name } => Some(format!("{setting}={name}")),
            Term::Setting(_) => None,
        };
        let message = "`perplexity` too large for `k`; use `NeighborMethod::Exact` (`2.5`) `";
        assert_eq!(respell(message, spell), "--perplexity too large for `k`; use neighbors=exact (`2.5`) `");
        assert_eq!(respell("no terms", spell), "no terms");
    }
}
