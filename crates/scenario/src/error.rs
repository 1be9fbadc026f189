//! Compile diagnostics: every problem of a scenario, each at its JSON path.

use std::fmt;

/// One problem (or warning) in a scenario, at a JSON path such as
/// `script[3].options.timeout` (empty for the document as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(formatter, "{}", self.message)
        } else {
            write!(formatter, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a scenario did not compile: all its errors at once, and the warnings found on the way.
/// `errors` is never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for CompileErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        write!(
            formatter,
            "{count} error{}",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(formatter, "\n  {error}")?;
        }
        for warning in &self.warnings {
            write!(formatter, "\n  warning: {warning}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_problem() {
        let errors = CompileErrors {
            errors: vec![
                Diagnostic {
                    path: String::new(),
                    message: "not JSON".into(),
                },
                Diagnostic {
                    path: "script[0].say".into(),
                    message: "expected a string".into(),
                },
            ],
            warnings: vec![Diagnostic {
                path: "script[1].if".into(),
                message: "constant".into(),
            }],
        };
        assert_eq!(
            errors.to_string(),
            "2 errors\n  not JSON\n  script[0].say: expected a string\n  warning: script[1].if: constant"
        );
    }
}
