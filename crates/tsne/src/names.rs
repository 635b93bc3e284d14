//! The methods of each stage by name, as every front end (the CLI, the Python package) spells
//! them: one table per enum, read by [`FromStr`] and written by `name()`.

use std::str::FromStr;

use tsne_core::{Error, Result};
use tsne_repulsion::FftParams;

use crate::methods::{Init, NeighborMethod, RepulsionMethod};
use crate::{HnswParams, NnDescentParams};

fn unknown(name: &'static str, given: &str, known: &[&str]) -> Error {
    Error::InvalidParameter {
        name,
        reason: format!("`{given}` is not a known method: use one of {}", known.join(", ")),
    }
}

impl NeighborMethod {
    /// The names [`FromStr`] accepts.
    pub const NAMES: &'static [&'static str] = &["auto", "exact", "dense", "nndescent", "hnsw"];
}

impl FromStr for NeighborMethod {
    type Err = Error;

    /// A built-in search by name with its default parameters (`approx` is `nndescent`).
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "exact" => Self::Exact,
            "dense" => Self::Dense,
            "nndescent" | "approx" => Self::NnDescent(NnDescentParams::default()),
            "hnsw" => Self::Hnsw(HnswParams::default()),
            _ => return Err(unknown("neighbors", name, Self::NAMES)),
        })
    }
}

impl RepulsionMethod {
    /// The names [`FromStr`] accepts.
    pub const NAMES: &'static [&'static str] = &["auto", "exact", "barnes_hut", "fft"];
}

impl FromStr for RepulsionMethod {
    type Err = Error;

    /// A built-in repulsion by name with its default parameters (`bh` and `barnes-hut` are
    /// `barnes_hut`).
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "exact" => Self::Exact,
            "barnes_hut" | "barnes-hut" | "bh" => Self::barnes_hut(),
            "fft" => Self::Fft(FftParams::default()),
            _ => return Err(unknown("repulsion", name, Self::NAMES)),
        })
    }
}

impl Init {
    /// The names [`FromStr`] accepts (positions are given as [`Init::Given`]).
    pub const NAMES: &'static [&'static str] = &["pca", "spectral", "random"];
}

impl FromStr for Init {
    type Err = Error;

    /// A built-in start by name.
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "pca" => Self::Pca,
            "spectral" => Self::Spectral,
            "random" => Self::Random,
            _ => return Err(unknown("init", name, Self::NAMES)),
        })
    }
}

// Every name of `names` reads as a method, and an unknown one is an error naming the parameter.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    fn reads_all<T: FromStr<Err = Error>>(names: &[&str], parameter: &str) {
        for name in names {
            assert!(name.parse::<T>().is_ok(), "{name}");
            assert!(name.to_uppercase().parse::<T>().is_ok(), "{name} in capitals");
        }
        match "no-such-method".parse::<T>() {
            Err(Error::InvalidParameter { name, reason }) => {
                assert_eq!(name, parameter);
                assert!(names.iter().all(|n| reason.contains(n)), "{reason}");
            }
            _ => panic!("an unknown {parameter} must be an error"),
        }
    }

    #[test]
    fn every_listed_name_reads_and_others_are_errors() {
        reads_all::<NeighborMethod>(NeighborMethod::NAMES, "neighbors");
        reads_all::<RepulsionMethod>(RepulsionMethod::NAMES, "repulsion");
        reads_all::<Init>(Init::NAMES, "init");
        reads_all::<Metric>(Metric::NAMES, "metric");
    }

    #[test]
    fn metric_names_round_trip() {
        for name in Metric::NAMES {
            assert_eq!(name.parse::<Metric>().map(Metric::name).ok(), Some(*name));
        }
        assert_eq!("cityblock".parse::<Metric>().ok(), Some(Metric::Manhattan));
        assert_eq!("bh".parse::<RepulsionMethod>().ok(), Some(RepulsionMethod::barnes_hut()));
    }
}
