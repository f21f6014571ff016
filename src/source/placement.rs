//! Where a substituted value sits in a query, so that it is escaped for that place.
//!
//! A value is safe only relative to its lexical context: `x'} or vector(1) #` is harmless
//! inside `"…"` once `"` is escaped, but closes a `'…'` string; `.*` is a plain label value
//! after `=` and matches every series after `=~`. So each placeholder of a query is located
//! first ([`place`]): inside which string, regex literal, path or tag, for the query language
//! of the template's source kind. Each backend then escapes a value for that [`Placement`]
//! (`escape_*_at` in its own file, chosen by [`escape_for_kind`]).
//!
//! A place where no escaping is safe (a bare PromQL or InfluxQL placeholder outside any string,
//! one in a comment, a Datadog placeholder outside `{…}`) is refused with the reason, at
//! `canaryd template check` time when the source kind is known, else at render time.
//!
//! The lexers only know what decides a placeholder's context: strings and their escapes,
//! comments, InfluxQL regex literals, Datadog's braces. They work on bytes: every delimiter is
//! ASCII, and the bytes of a multi-byte UTF-8 character never equal an ASCII byte.

use super::SourceError;

/// The query language of a source kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Prometheus (and anything serving its API).
    PromQL,
    /// InfluxDB 1.x.
    InfluxQL,
    /// graphite-web's render targets.
    Graphite,
    /// Datadog metric queries.
    Datadog,
    /// Recorded data: the query is ignored, values pass as they are.
    Recorded,
}

impl Language {
    /// The language of source kind `kind`; `None` for a kind this build does not know.
    pub fn from_kind(kind: &str) -> Option<Language> {
        match kind {
            "prometheus" => Some(Language::PromQL),
            "influxdb" => Some(Language::InfluxQL),
            "graphite" => Some(Language::Graphite),
            "datadog" => Some(Language::Datadog),
            "file" => Some(Language::Recorded),
            _ => None,
        }
    }

    /// The source kind that speaks it.
    pub fn kind(self) -> &'static str {
        match self {
            Language::PromQL => "prometheus",
            Language::InfluxQL => "influxdb",
            Language::Graphite => "graphite",
            Language::Datadog => "datadog",
            Language::Recorded => "file",
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Language::PromQL => "PromQL",
            Language::InfluxQL => "InfluxQL",
            Language::Graphite => "Graphite",
            Language::Datadog => "Datadog",
            Language::Recorded => "recorded data",
        }
    }
}

/// The lexical context of one placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// No query language: the value as it is (recorded data).
    Verbatim,
    /// Inside a string literal delimited by `quote` (`"`, `'` or `` ` ``). `regex` is true when
    /// the string is the value of a regex matcher (PromQL `=~` / `!~`).
    Quoted {
        /// The delimiter.
        quote: char,
        /// The string is a regular expression.
        regex: bool,
    },
    /// Inside an InfluxQL regex literal `/…/`.
    RegexLiteral,
    /// Outside any string in PromQL or InfluxQL (`${metric}{version="${scope}"}`,
    /// `rate(x[${window}])`): only a template argument may sit here, and its value must be one
    /// name, number or duration, a single token that cannot add to the query.
    Bare,
    /// A bare Graphite path node (or part of one).
    PathNode,
    /// Inside a Datadog `{…}` scope: a tag or tag value.
    TagValue,
}

impl Placement {
    /// Where the value is, in words (for errors).
    pub fn describe(self) -> String {
        match self {
            Placement::Verbatim => "as it is".into(),
            Placement::Quoted { quote, regex: true } => {
                format!("a {quote}…{quote} regex matcher value")
            }
            Placement::Quoted { quote, .. } => format!("a {quote}…{quote} string"),
            Placement::RegexLiteral => "a /…/ regex literal".into(),
            Placement::Bare => "the query outside any string".into(),
            Placement::PathNode => "a path node".into(),
            Placement::TagValue => "a {…} tag value".into(),
        }
    }
}

/// For each placeholder of `query` (its byte range `start..end`, in order and not
/// overlapping), where it sits in `language`, or why no value can be put there safely.
pub fn place(
    language: Language,
    query: &str,
    spans: &[(usize, usize)],
) -> Vec<Result<Placement, String>> {
    let bytes = query.as_bytes();
    let mut lexer = Lexer::new(language);
    let mut out = Vec::with_capacity(spans.len());
    let mut spans = spans.iter().peekable();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(&&(start, end)) = spans.peek() {
            if i >= start {
                out.push(lexer.here());
                lexer.after_placeholder();
                spans.next();
                i = end.max(i + 1);
                continue;
            }
        }
        i += lexer.step(bytes, i);
    }
    // Placeholders at the very end (or spans past the text: never, but answer for each).
    for _ in spans {
        out.push(lexer.here());
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Str { quote: u8, regex: bool },
    Regex,
    LineComment,
    BlockComment,
}

struct Lexer {
    language: Language,
    state: State,
    /// The last two bytes of code that are not whitespace (to see `=~` before a string).
    prev: [u8; 2],
    /// Depth of `{…}` (Datadog scopes).
    braces: usize,
}

impl Lexer {
    fn new(language: Language) -> Lexer {
        Lexer {
            language,
            state: State::Code,
            prev: [b' ', b' '],
            braces: 0,
        }
    }

    fn after_regex_operator(&self) -> bool {
        matches!(self.prev, [b'=' | b'!', b'~'])
    }

    /// Consumes what starts at `i`; how many bytes.
    fn step(&mut self, bytes: &[u8], i: usize) -> usize {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match self.state {
            State::Str { .. } | State::Regex => {
                let close = match self.state {
                    State::Str { quote, .. } => quote,
                    _ => b'/',
                };
                if c == b'\\' && close != b'`' {
                    return 2.min(bytes.len() - i);
                }
                if c == close {
                    self.state = State::Code;
                    self.prev = [b' ', b'"'];
                }
                1
            }
            State::LineComment => {
                if c == b'\n' {
                    self.state = State::Code;
                }
                1
            }
            State::BlockComment => {
                if c == b'*' && next == Some(b'/') {
                    self.state = State::Code;
                    return 2;
                }
                1
            }
            State::Code => self.code(c, next),
        }
    }

    fn code(&mut self, c: u8, next: Option<u8>) -> usize {
        if c.is_ascii_whitespace() {
            return 1;
        }
        let language = self.language;
        let string_quote = match language {
            Language::PromQL => matches!(c, b'"' | b'\'' | b'`'),
            Language::InfluxQL | Language::Graphite => matches!(c, b'"' | b'\''),
            Language::Datadog | Language::Recorded => false,
        };
        if string_quote {
            self.state = State::Str {
                quote: c,
                regex: self.after_regex_operator(),
            };
            return 1;
        }
        match (language, c, next) {
            (Language::PromQL, b'#', _) => {
                self.state = State::LineComment;
                return 1;
            }
            (Language::InfluxQL, b'-', Some(b'-')) => {
                self.state = State::LineComment;
                return 2;
            }
            (Language::InfluxQL, b'/', Some(b'*')) => {
                self.state = State::BlockComment;
                return 2;
            }
            (Language::InfluxQL, b'/', _) if self.after_regex_operator() => {
                self.state = State::Regex;
                return 1;
            }
            (Language::Datadog, b'{', _) => self.braces += 1,
            (Language::Datadog, b'}', _) => self.braces = self.braces.saturating_sub(1),
            _ => {}
        }
        self.prev = [self.prev[1], c];
        1
    }

    fn after_placeholder(&mut self) {
        if self.state == State::Code {
            self.prev = [b' ', b'x'];
        }
    }

    fn here(&self) -> Result<Placement, String> {
        let language = self.language;
        match (self.state, language) {
            (_, Language::Recorded) => Ok(Placement::Verbatim),
            (State::Str { quote, regex }, _) => Ok(Placement::Quoted {
                quote: quote as char,
                regex: regex && language == Language::PromQL,
            }),
            (State::Regex, _) => Ok(Placement::RegexLiteral),
            (State::LineComment | State::BlockComment, _) => Err(format!(
                "the placeholder is inside a {} comment, where a value with a line break would \
                 end the comment and become part of the query",
                language.name()
            )),
            (State::Code, Language::Graphite) => Ok(Placement::PathNode),
            (State::Code, Language::Datadog) if self.braces > 0 => Ok(Placement::TagValue),
            (State::Code, Language::Datadog) => Err(
                "the placeholder is outside any `{…}` scope; in a Datadog query a value can only \
                 be a tag value, e.g. `avg:latency{version:${scope}}`"
                    .into(),
            ),
            (State::Code, Language::PromQL | Language::InfluxQL) => Ok(Placement::Bare),
        }
    }
}

/// Where `${scope}` may not go although an argument may: outside any string (a scope is a
/// label or tag value, and a bare one is a missing pair of quotes). `None` when it may.
pub fn scope_refusal(language: Language, placement: Placement) -> Option<String> {
    match (placement, language) {
        (Placement::Bare, Language::PromQL) => Some(
            "`${scope}` is outside any string, where no escaping can keep a scope from changing \
             the query; put it inside quotes, e.g. `version=\"${scope}\"`"
                .into(),
        ),
        (Placement::Bare, _) => Some(
            "`${scope}` is outside any string, where no escaping can keep a scope from changing \
             the query; put it inside quotes, e.g. `\"version\" = '${scope}'` or \
             `=~ /${scope}/`"
                .into(),
        ),
        _ => None,
    }
}

/// Words that, as a bare value, would be an operator or clause of the query, not a name.
const PROMQL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "atan2",
];
const INFLUXQL_KEYWORDS: &[&str] = &[
    "and", "or", "not", "select", "from", "where", "group", "by", "order", "limit", "offset",
    "slimit", "soffset", "into", "fill", "tz", "as", "asc", "desc", "drop", "delete", "alter",
    "create", "grant", "revoke", "kill", "show", "on", "with",
];

/// Checks a value for [`Placement::Bare`]: one name (PromQL: `[A-Za-z_:][A-Za-z0-9_:]*`,
/// InfluxQL: `[A-Za-z_][A-Za-z0-9_]*`, not a keyword of the language), one number
/// (`[0-9]+(.[0-9]+)?`) or one duration (`5m`, `1h30m`, `500ms`).
///
/// # Errors
/// [`SourceError::Escape`] for anything else.
pub fn check_bare(language: Language, value: &str) -> Result<String, SourceError> {
    let (keywords, colon) = match language {
        Language::PromQL => (PROMQL_KEYWORDS, true),
        _ => (INFLUXQL_KEYWORDS, false),
    };
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':');
    let is_name = value
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii_digit() && name_char(c))
        && value.chars().all(name_char)
        && !keywords.contains(&value.to_ascii_lowercase().as_str());
    let is_number = {
        let mut parts = value.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        let fraction = parts.next();
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    if is_name || is_number || is_duration(value) {
        return Ok(value.to_string());
    }
    Err(SourceError::Escape {
        value: value.to_string(),
        language: language.name(),
        reason: "outside any string a value can only be one name (letters, digits, `_`), a \
                 number or a duration such as 5m, or it would change the query; put the \
                 placeholder inside quotes to pass other values"
            .into(),
    })
}

/// `([0-9]+(ns|us|µs|ms|s|m|h|d|w|y))+`.
fn is_duration(value: &str) -> bool {
    let mut rest = value;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h", "d", "w", "y"]
            .iter()
            .find(|u| rest.starts_with(*u))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// `value` escaped for `placement` in the query language of source kind `kind`.
/// `value_is_regex`: the template declares the value a regular expression, so a regex matcher
/// keeps its metacharacters; otherwise they are quoted and the value matches literally.
///
/// # Errors
/// [`SourceError::Escape`] when the value cannot be made safe there, or when `kind` is unknown
/// (no escaping is known for it, so nothing is substituted).
pub fn escape_for_kind(
    kind: &str,
    value: &str,
    placement: Placement,
    value_is_regex: bool,
) -> Result<String, SourceError> {
    match Language::from_kind(kind) {
        Some(Language::PromQL) => {
            super::prometheus::escape_promql_at(value, placement, value_is_regex)
        }
        Some(Language::InfluxQL) => {
            super::influxdb::escape_influxql_at(value, placement, value_is_regex)
        }
        Some(Language::Graphite) => super::graphite::escape_graphite_at(value, placement),
        Some(Language::Datadog) => super::datadog::escape_datadog_at(value, placement),
        Some(Language::Recorded) => Ok(value.to_string()),
        None => Err(SourceError::Escape {
            value: value.to_string(),
            language: "unknown",
            reason: format!("no escaping is known for source kind {kind:?}"),
        }),
    }
}

/// RE2 (Go `regexp.QuoteMeta`): every metacharacter behind a backslash, so that the value as a
/// regular expression matches exactly itself.
pub fn quote_regex_meta(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The error for a placement that a backend's lexer never gives (a programming error, but
/// refused rather than substituted).
pub(crate) fn not_here(value: &str, language: &'static str, placement: Placement) -> SourceError {
    SourceError::Escape {
        value: value.to_string(),
        language,
        reason: format!(
            "a value cannot be put in {} in this language",
            placement.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placement of every `${…}` of `query` (spans found the simple way: no `}` inside).
    fn places(language: Language, query: &str) -> Vec<Result<Placement, String>> {
        let mut spans = Vec::new();
        let mut from = 0;
        while let Some(s) = query[from..].find("${") {
            let start = from + s;
            let end = start + query[start..].find('}').unwrap() + 1;
            spans.push((start, end));
            from = end;
        }
        place(language, query, &spans)
    }

    fn q(quote: char, regex: bool) -> Result<Placement, String> {
        Ok(Placement::Quoted { quote, regex })
    }

    #[test]
    fn promql_contexts() {
        let found = places(
            Language::PromQL,
            r#"a{b="${x}", c='${x}', d=`${x}`, e=~"${x}", f !~ '${x}', g=~`${x}`} / ${x}"#,
        );
        assert_eq!(
            found[..6],
            [
                q('"', false),
                q('\'', false),
                q('`', false),
                q('"', true),
                q('\'', true),
                q('`', true)
            ]
        );
        assert_eq!(found[6], Ok(Placement::Bare));
        assert!(scope_refusal(Language::PromQL, Placement::Bare).is_some());
        assert!(scope_refusal(Language::PromQL, q('"', true).unwrap()).is_none());
    }

    #[test]
    fn bare_values_are_one_token() {
        for ok in [
            "latency_seconds",
            "job:rate5m",
            "_x",
            "5m",
            "1h30m",
            "500ms",
            "0.99",
            "10",
        ] {
            assert_eq!(check_bare(Language::PromQL, ok).unwrap(), ok);
        }
        for bad in [
            "x} or vector(1) #",
            "5m] or vector(1)",
            "or",
            "OFFSET",
            "a b",
            "",
            ".5",
            "1.",
            "5x",
            "9lives",
            "a\nb",
            "é",
            "x'",
        ] {
            assert!(check_bare(Language::PromQL, bad).is_err(), "{bad:?}");
        }
        assert!(check_bare(Language::InfluxQL, "job:x").is_err());
        assert!(check_bare(Language::InfluxQL, "WHERE").is_err());
        assert_eq!(
            check_bare(Language::InfluxQL, "cpu_load").unwrap(),
            "cpu_load"
        );
    }

    #[test]
    fn promql_escapes_and_comments_do_not_confuse_the_lexer() {
        let found = places(
            Language::PromQL,
            "a{b=\"x\\\"${x}\"} # it's ${x}\n + c{d='\\'${x}'} + e{f=`\\`${x}",
        );
        assert_eq!(found[0], q('"', false));
        assert!(found[1].as_ref().unwrap_err().contains("comment"));
        assert_eq!(found[2], q('\'', false));
        // A backslash does not escape in a raw string: the backtick closed it.
        assert_eq!(found[3], Ok(Placement::Bare));
    }

    #[test]
    fn influxql_contexts() {
        let found = places(
            Language::InfluxQL,
            r#"SELECT mean("${x}") FROM "m" WHERE "v" = '${x}' AND "h" =~ /${x}/ AND x / ${x} -- ${x}"#,
        );
        assert_eq!(found[0], q('"', false));
        assert_eq!(found[1], q('\'', false));
        assert_eq!(found[2], Ok(Placement::RegexLiteral));
        assert_eq!(found[3], Ok(Placement::Bare));
        assert!(found[4].as_ref().unwrap_err().contains("comment"));
    }

    #[test]
    fn graphite_and_datadog_contexts() {
        let found = places(Language::Graphite, "alias(sumSeries(app.${x}.p99), '${x}')");
        assert_eq!(found, [Ok(Placement::PathNode), q('\'', false)]);
        let found = places(
            Language::Datadog,
            "avg:lat{version:${x},!host:${x}} by {host} + ${x}",
        );
        assert_eq!(
            found[..2],
            [Ok(Placement::TagValue), Ok(Placement::TagValue)]
        );
        assert!(found[2].as_ref().unwrap_err().contains("outside any `{…}`"));
        assert_eq!(
            places(Language::Recorded, "${x}"),
            [Ok(Placement::Verbatim)]
        );
    }

    #[test]
    fn quotes_every_re2_metacharacter() {
        assert_eq!(quote_regex_meta(".*"), r"\.\*");
        assert_eq!(
            quote_regex_meta(r"a+b|(c)[d]{e}^$?\é"),
            r"a\+b\|\(c\)\[d\]\{e\}\^\$\?\\é"
        );
    }
}
