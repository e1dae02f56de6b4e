//! The error type of this crate.

use std::fmt;

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One thing wrong with a chain spec, found by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a JSON path such as `$.validators[2].power`.
    pub path: String,
    /// What is wrong, in lower case, without the path.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything that can go wrong when reading or building a chain spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not JSON of the chain spec's shape: bad JSON, a wrong type, a
    /// missing field or an unknown one. Reported at the first such place.
    #[error("{path} (line {line}, column {column}): {message}")]
    Syntax {
        /// JSON path of the offending value, such as `$.validators[0].powr`.
        path: String,
        /// 1-based line of the error in the input.
        line: usize,
        /// 1-based column of the error in the input.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The spec has the right shape but breaks rules; every broken rule is listed.
    #[error("{}", DisplayProblems(problems))]
    Invalid {
        /// Every problem found: section by section, then the rules about the spec as a whole.
        problems: Vec<Problem>,
    },
    /// A local network's shape is out of range.
    #[error("cannot build a local network: {0}")]
    Localnet(String),
    /// No preset has this name.
    #[error("unknown preset {name:?}; known presets: {}", crate::PRESET_NAMES.join(", "))]
    UnknownPreset {
        /// The name asked for.
        name: String,
    },
    /// The validator set could not be built; validation makes this unreachable for a
    /// validated spec, but the types crate reports it as a value.
    #[error(transparent)]
    ValidatorSet {
        /// The error from the types crate.
        #[from]
        source: accord_types::Error,
    },
}

impl Error {
    /// The problems of an [`Error::Invalid`], or none.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

/// Displays problems one per line.
struct DisplayProblems<'a>(&'a [Problem]);

impl fmt::Display for DisplayProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}
