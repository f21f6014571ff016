//! The one table of error codes a caller can see (CONTRACT §7: `{"error": {"code": "...",
//! "message": "..."}}`), after Meilisearch's `Code`: each code is declared once, here, with its
//! HTTP status and the words that say what it means. The API answers with it
//! (`api::error`), the metrics label failed judgments with it (`canaryd_judgment_errors_total`).
//!
//! A code names what went wrong; where the status tells two cases of one code apart (a source
//! that did not answer in time is a 504, one that failed otherwise a 502), each case is its own
//! row with the same name.

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $status:literal, $words:literal;)*) => {
        /// A stable error code, with its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every row of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as it appears on the wire and in metrics labels.
            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The HTTP status of an answer with this code.
            pub fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// What the code means, in the words a user reads (the API reference).
            pub fn words(self) -> &'static str {
                match self {
                    $(Code::$variant => $words,)*
                }
            }
        }
    };
}

codes! {
    /// A field of the request is wrong.
    InvalidRequest = "invalid_request", 400, "a field of the request is wrong; `path` names it";
    /// The request body could not be read.
    InvalidBody = "invalid_body", 400, "the request body could not be read";
    /// The body is not the JSON the endpoint takes.
    InvalidJson = "invalid_json", 400, "the body is not the JSON the endpoint takes; `path` names the field";
    /// The query string is not what the endpoint takes.
    InvalidQuery = "invalid_query", 400, "the query string is not what the endpoint takes";
    /// The template has problems.
    InvalidTemplate = "invalid_template", 400, "the template has problems; `problems` lists each with its line, column and field";
    /// Template arguments missing or unknown, or a value that cannot sit where it is placed.
    InvalidArguments = "invalid_arguments", 400, "template arguments are missing or unknown, or a placeholder sits where no value can be put safely";
    /// The template names a source the configuration does not define.
    UnknownSource = "unknown_source", 400, "the template names a source the configuration does not define";
    /// A scope or argument value the source's query language cannot carry safely.
    InvalidScope = "invalid_scope", 400, "a scope or argument value the source's query language cannot carry safely";
    /// The window or step cannot be fetched.
    InvalidWindow = "invalid_window", 400, "the window or its step cannot be fetched (end before start, too many points)";
    /// The source refused a value as written.
    SourceRefused = "source_error", 400, "the source cannot take a value as written";
    /// No or an unknown token.
    Unauthorized = "unauthorized", 401, "no token, or a token that is not valid";
    /// The token's role may not do this.
    Forbidden = "forbidden", 403, "the token's role may not do this";
    /// No route at that path.
    NotFound = "not_found", 404, "no route at that method and path";
    /// No stored template of that name (or version).
    TemplateNotFound = "template_not_found", 404, "no stored template of that name (or version)";
    /// No judgment with that id.
    JudgmentNotFound = "judgment_not_found", 404, "no judgment with that id";
    /// No analysis with that id.
    AnalysisNotFound = "analysis_not_found", 404, "no analysis with that id";
    /// No schedule with that id or name.
    ScheduleNotFound = "schedule_not_found", 404, "no schedule with that id or name";
    /// The request conflicts with the resource's state.
    Conflict = "conflict", 409, "the request conflicts with the resource's state (an analysis already ended, a name taken)";
    /// The body is larger than `server.max_body_bytes`.
    PayloadTooLarge = "payload_too_large", 413, "the request body is larger than server.max_body_bytes";
    /// The source's configuration is unusable.
    SourceConfig = "source_config", 502, "the source's configuration is unusable";
    /// The source is down: unreachable, or every query failed on its side.
    SourceUnavailable = "source_unavailable", 502, "the source could not be reached, or every query failed on its side: no verdict was made";
    /// The source did not answer within the judgment's deadline.
    SourceTimeout = "source_unavailable", 504, "the source did not answer within the judgment's deadline: no verdict was made";
    /// The source answered, but not with what the judgment needs.
    SourceError = "source_error", 502, "the source answered, but not with what the judgment needs";
    /// A query of the source did not answer within the judgment's deadline.
    SourceDeadline = "source_error", 504, "a query did not answer within the judgment's deadline";
    /// The store failed.
    StoreError = "store_error", 503, "the store failed; try again";
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = include_str!("../README.md");

    #[test]
    fn every_code_is_in_the_readme_and_a_shared_name_differs_in_status() {
        for (i, a) in Code::ALL.iter().enumerate() {
            assert!(
                (100..600).contains(&a.status()) && !a.words().is_empty(),
                "{a:?}"
            );
            let row = format!("| {} |", a.status());
            let status_rows: Vec<&str> = README
                .lines()
                .filter(|l| l.starts_with("| ") && l.contains(&a.status().to_string()))
                .collect();
            assert!(
                status_rows
                    .iter()
                    .any(|l| l.contains(&format!("`{}`", a.name()))),
                "README's error table has no `{}` in a {} row (looked for {row})",
                a.name(),
                a.status()
            );
            for b in &Code::ALL[i + 1..] {
                if a.name() == b.name() {
                    assert_ne!(a.status(), b.status(), "{a:?} and {b:?}");
                }
            }
        }
    }
}
