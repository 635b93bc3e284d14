//! Library messages in the CLI's spelling: a setting named `` `max_memory` `` becomes the flag
//! `--max-memory`, a method named `` `RepulsionMethod::BarnesHut` `` becomes `--repulsion bh`.

use clap::Command;
use tsne::spelling::{respell, Term};

/// `message` with the library's terms spelled as the flags of `cli` (any subcommand's).
pub fn cli_spelling(message: &str, cli: &Command) -> String {
    respell(message, |term| match term {
        Term::Setting(name) => {
            let flag = name.replace('_', "-");
            has_flag(cli, &flag).then(|| format!("--{flag}"))
        }
        Term::Choice { setting, name } => Some(format!("--{setting} {}", flag_value(setting, name))),
    })
}

/// The CLI's value of a method where it differs from the library's name.
fn flag_value<'a>(setting: &str, name: &'a str) -> &'a str {
    match (setting, name) {
        ("repulsion", "barnes_hut") => "bh",
        _ => name,
    }
}

fn has_flag(cli: &Command, flag: &str) -> bool {
    cli.get_arguments().any(|a| a.get_long() == Some(flag))
        || cli.get_subcommands().any(|s| has_flag(s, flag))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::Cli;

    #[test]
    fn library_terms_become_flags() {
        let cli = Cli::command();
        let message =
            "raise `max_memory`; use `RepulsionMethod::BarnesHut` or `NeighborMethod::Exact`, not `xyz`";
        assert_eq!(
            cli_spelling(message, &cli),
            "raise --max-memory; use --repulsion bh or --neighbors exact, not `xyz`"
        );
        assert_eq!(
            cli_spelling("invalid parameter `perplexity`: 0", &cli),
            "invalid parameter --perplexity: 0"
        );
    }
}
