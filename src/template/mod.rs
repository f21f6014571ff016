//! Analysis templates (CONTRACT §2): the typed model, loading from YAML with line/column
//! diagnostics, and `${scope}` / `${arg}` substitution.
//! (Loader placeholder: being written.)

pub mod model;

use std::collections::BTreeMap;
use std::path::Path;

pub use model::*;

/// One problem found in a template, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted path of the field, e.g. `metrics[2].judge.confidence`.
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

/// Why a template could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The template has problems; every one is listed.
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// A template argument has no value and no default.
    #[error("template argument(s) missing: {}", .0.join(", "))]
    MissingArgs(Vec<String>),
}

/// Parses and validates a template from YAML text; `file` names it in diagnostics.
pub fn parse_template(text: &str, file: &str) -> Result<Template, TemplateError> {
    let _ = text;
    Err(TemplateError::Invalid(vec![Diagnostic {
        file: file.to_string(),
        line: 1,
        column: 1,
        field: String::new(),
        message: "template loader not written yet".into(),
    }]))
}

/// Reads and parses a template file.
pub fn load_template(path: &Path) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_template(&text, &path.display().to_string())
}

/// The template's arguments resolved against `given` (defaults filled in); every required
/// argument that has no value is named in the error.
pub fn resolve_args(
    template: &Template,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let _ = (template, given);
    Ok(BTreeMap::new())
}

/// Every problem of every file (placeholder until the loader lands).
pub fn check_files(paths: &[std::path::PathBuf]) -> Vec<Diagnostic> {
    paths
        .iter()
        .filter_map(|p| match load_template(p) {
            Ok(_) => None,
            Err(e) => Some(Diagnostic {
                file: p.display().to_string(),
                line: 1,
                column: 1,
                field: String::new(),
                message: e.to_string(),
            }),
        })
        .collect()
}
