//! `${scope}` and `${arg}` substitution in queries, and resolution of template arguments.
//!
//! Only `${identifier}` (an ASCII letter or `_`, then letters, digits or `_`) is a placeholder;
//! anything else, `$x`, `${ x }`, `${1}` or an unclosed `${`, stays as written, so that a query
//! language's own `$` syntax survives.

use std::collections::BTreeMap;

use super::{Template, TemplateError};

/// The name `${scope}` stands for: the baseline's or the canary's scope.
pub const SCOPE_PLACEHOLDER: &str = "scope";

/// One `${name}` in a query: the name and the byte range of the whole placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder<'a> {
    /// The identifier between `${` and `}`.
    pub name: &'a str,
    /// Byte offset of the `$`.
    pub start: usize,
    /// Byte offset just past the `}`.
    pub end: usize,
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every `${identifier}` in `query`, in order.
pub(crate) fn placeholders(query: &str) -> Vec<Placeholder<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = query[from..].find("${") {
        let start = from + offset;
        let body = start + 2;
        match query[body..].find('}') {
            Some(len) if is_identifier(&query[body..body + len]) => {
                found.push(Placeholder {
                    name: &query[body..body + len],
                    start,
                    end: body + len + 1,
                });
                from = body + len + 1;
            }
            // Not a placeholder: step past the `$` only, so `$${x}` still finds `${x}`.
            _ => from = start + 1,
        }
    }
    found
}

/// `query` with `${scope}` replaced by `escape(scope)` and each `${name}` by
/// `escape(args[name])`; anything that is not `${identifier}` is left as written.
///
/// `escape` makes a value safe inside the source's query language (a PromQL label value, an
/// InfluxQL string, ...); the source chooses it. Values are substituted once: a value that itself
/// contains `${...}` is not expanded again.
///
/// # Errors
/// [`TemplateError::UnknownPlaceholder`] naming the first placeholder that is neither `scope`
/// nor a key of `args`.
pub fn render_query(
    query: &str,
    scope: &str,
    args: &BTreeMap<String, String>,
    escape: &dyn Fn(&str) -> String,
) -> Result<String, TemplateError> {
    substitute(query, |_, placeholder| {
        if placeholder.name == SCOPE_PLACEHOLDER {
            return Ok(escape(scope));
        }
        match args.get(placeholder.name) {
            Some(value) => Ok(escape(value)),
            None => Err(TemplateError::UnknownPlaceholder {
                name: placeholder.name.to_string(),
            }),
        }
    })
}

/// `query` with its `i`-th placeholder replaced by `value_for(i, placeholder)`, the rest as
/// written. Values are substituted once, never expanded again.
pub(crate) fn substitute<E>(
    query: &str,
    mut value_for: impl FnMut(usize, &Placeholder<'_>) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(query.len() + 16);
    let mut copied = 0;
    for (i, placeholder) in placeholders(query).iter().enumerate() {
        out.push_str(&query[copied..placeholder.start]);
        out.push_str(&value_for(i, placeholder)?);
        copied = placeholder.end;
    }
    out.push_str(&query[copied..]);
    Ok(out)
}

/// The template's arguments resolved against `given`: given values win, defaults fill the rest.
///
/// # Errors
/// [`TemplateError::MissingArgs`] naming every argument that has neither a value nor a default;
/// failing that, [`TemplateError::UnknownArgs`] naming every given argument the template does
/// not declare (a misspelt argument would otherwise silently fall back to its default).
pub fn resolve_args(
    template: &Template,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut resolved = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, spec) in &template.args {
        match given.get(name).or(spec.default.as_ref()) {
            Some(value) => {
                resolved.insert(name.clone(), value.clone());
            }
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(TemplateError::MissingArgs(missing));
    }
    let unknown: Vec<String> = given
        .keys()
        .filter(|name| !template.args.contains_key(*name))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::UnknownArgs(unknown));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_identifier_placeholders() {
        let names: Vec<&str> = placeholders("${a} $b ${ c } ${1x} ${d_2}${ $${e} ${f")
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a", "d_2", "e"]);
    }

    #[test]
    fn renders_with_escape_and_keeps_the_rest_literal() {
        let args = BTreeMap::from([("svc".to_string(), "a\"b".to_string())]);
        let escape = |v: &str| v.replace('"', "\\\"");
        let out = render_query(
            "x{s=\"${svc}\",v=\"${scope}\"} $1 ${ svc } ${",
            "canary",
            &args,
            &escape,
        );
        assert_eq!(
            out.ok().as_deref(),
            Some("x{s=\"a\\\"b\",v=\"canary\"} $1 ${ svc } ${")
        );
    }

    #[test]
    fn values_are_not_expanded_twice() {
        let args = BTreeMap::from([("a".to_string(), "${scope}".to_string())]);
        let out = render_query("${a}", "s", &args, &|v: &str| v.to_string());
        assert_eq!(out.ok().as_deref(), Some("${scope}"));
    }
}
