//! One problem in `deploy.yaml`: where it is and what to do about it.

use std::fmt;

use crate::locate::LineCol;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `network.availability_zones[2]`.
    pub path: String,
    pub at: Option<LineCol>,
    /// What is wrong and what to do, in one sentence or two.
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), at: None, message: message.into() }
    }
}

/// Every problem found in one file. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "{} has {n} problem{}:", self.file, if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            match p.at {
                Some(at) => write!(f, "  {}:{}:{}: ", self.file, at.line, at.column)?,
                None => write!(f, "  {}: ", self.file)?,
            }
            let path = if p.path.is_empty() { "(document)" } else { &p.path };
            writeln!(f, "{path}: {}", p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
