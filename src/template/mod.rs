//! Analysis templates (CONTRACT §2): the typed model, loading from YAML with line/column
//! diagnostics, and `${scope}` / `${arg}` substitution.
//!
//! * `yaml`: YAML text to a small tree in which every node knows its line and column
//!   (`yaml-rust2`'s event parser; its own tree drops positions).
//! * `load`: that tree to a typed [`Template`], reporting every problem as a [`Diagnostic`]
//!   with file, line, column and the dotted field path, not just the first one.
//! * [`render`]: `${scope}` / `${arg}` substitution and argument resolution.
//!
//! Templates are user input: no YAML, however odd (anchors, tags, several documents, a list at
//! the top), makes this module panic; it makes diagnostics.

pub mod kayenta;
mod load;
pub mod model;
pub mod render;
mod yaml;

use std::path::{Path, PathBuf};

pub use model::*;
pub use render::{render_query, SCOPE_PLACEHOLDER};

/// The longest template (or metric) name, in characters: a name is a key in the store, in
/// URLs and in the `/metrics` labels, so it is kept short.
pub const MAX_NAME_CHARS: usize = 128;

/// Why `name` is not a valid template name (`[A-Za-z0-9_-]+`, at most [`MAX_NAME_CHARS`]
/// characters), or `None` when it is.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Some("must not be empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Some(format!(
            "a name is at most {MAX_NAME_CHARS} characters; this one has {chars}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Some("may only hold letters, digits, `_` and `-` ([A-Za-z0-9_-]+)".into());
    }
    None
}

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
    /// Arguments were given that the template does not declare.
    #[error("unknown template argument(s): {}", .0.join(", "))]
    UnknownArgs(Vec<String>),
    /// A placeholder sits where no value can be put safely (e.g. outside any string of a
    /// PromQL query); found at render time when the source kind was not known at load time.
    #[error("metric '{metric}': `${{{name}}}` at column {column} of the query: {reason}")]
    UnsafePlacement {
        /// The metric whose query it is.
        metric: String,
        /// The placeholder's name.
        name: String,
        /// 1-based column (in characters) of its `$` in the query.
        column: usize,
        /// Why, and what to write instead.
        reason: String,
    },
    /// A query names `${name}` that is neither `scope` nor a given argument.
    #[error("query placeholder ${{{name}}} is neither scope nor a template argument")]
    UnknownPlaceholder {
        /// The name between `${` and `}`.
        name: String,
    },
}

/// Parses and validates a template from YAML text; `file` names it in diagnostics.
///
/// # Errors
/// [`TemplateError::Invalid`] with every problem found, in file order.
pub fn parse_template(text: &str, file: &str) -> Result<Template, TemplateError> {
    load::load(text, file).map_err(TemplateError::Invalid)
}

/// Reads and parses a template file.
///
/// # Errors
/// [`TemplateError::Io`] when the file cannot be read, else as [`parse_template`].
pub fn load_template(path: &Path) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_template(&text, &path.display().to_string())
}

/// Every problem of every file, in the order of `paths` and then of lines (what
/// `canaryd template check` prints); empty when all are valid. A file that cannot be read is one
/// diagnostic at line 1, column 1, field `(file)`, carrying the OS error.
pub fn check_files(paths: &[PathBuf]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Err(error) => diagnostics.push(Diagnostic {
                file,
                line: 1,
                column: 1,
                field: "(file)".into(),
                message: format!("cannot read the file: {error}"),
            }),
            Ok(text) => {
                if let Err(found) = load::load(&text, &file) {
                    diagnostics.extend(found);
                }
            }
        }
    }
    diagnostics
}

pub use render::resolve_args;
