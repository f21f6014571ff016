//! The fuzz targets' generators, in one place. They start from real inputs (the shipped
//! templates, the recorded scenarios, backend answers shaped like the source tests' and the
//! backends' documentation, request bodies made of the API's real fields) and mutate them:
//! lines inserted, deleted or duplicated, scalars swapped for odd values, fields given the wrong
//! type, numbers at the edges of f64 and u64, deep nesting, anchors and aliases, bytes cut or
//! flipped.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};

use crate::support::repo_root;

/// Every `*.yaml` of `dir` (relative to the repository root), as (file name, text).
pub fn read_dir(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo_root().join(dir))
        .expect("read a fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into();
            (name, read(&p))
        })
        .collect();
    out.sort();
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).expect("read a fixture")
}

/// Any text of up to `max` characters. (A regex strategy such as `"\\PC{0,8}"` compiles its
/// regex each time it is built, which is at every case inside a `prop_flat_map`.)
pub fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(any::<char>(), 0..=max).prop_map(|c| c.into_iter().collect())
}

/// Text of `min..=max` characters taken from `alphabet`.
pub fn chars(
    alphabet: &'static str,
    min: usize,
    max: usize,
) -> impl Strategy<Value = String> + Clone {
    let alphabet: Vec<char> = alphabet.chars().collect();
    prop::collection::vec(select(alphabet), min..=max).prop_map(|c| c.into_iter().collect())
}

/// The shipped and fixture templates.
pub fn real_templates() -> Vec<String> {
    let mut t: Vec<String> = read_dir("analysis-templates", "yaml")
        .into_iter()
        .chain(read_dir("fixtures/templates", "yaml"))
        .map(|(_, text)| text)
        .collect();
    t.sort();
    t
}

// ---------------------------------------------------------------------------------------------
// Odd values

/// Numbers Kayenta-style data throws at a judge: NaN, ±Inf, -0, subnormals, the ends of f64,
/// plus ordinary values so that the statistics have something to chew on.
pub fn kayenta_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            5e-324,
            -5e-324,
            f64::MIN_POSITIVE / 2.0,
            f64::MIN_POSITIVE,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN,
            1e-300,
            1.0,
            2.0,
            1e15,
            9_007_199_254_740_993.0,
        ]),
        3 => -1e3f64..1e3,
        2 => (0u32..20).prop_map(f64::from),
        1 => any::<f64>(),
    ]
}

/// A series of Kayenta numbers with gaps; sometimes constant, sometimes empty.
pub fn kayenta_series() -> impl Strategy<Value = Vec<Option<f64>>> {
    prop_oneof![
        6 => prop::collection::vec(prop::option::weighted(0.9, kayenta_number()), 0..60),
        1 => (kayenta_number(), 0usize..40).prop_map(|(v, n)| vec![Some(v); n]),
        1 => (0usize..40).prop_map(|n| vec![None; n]),
    ]
}

/// Scalar texts that are odd for YAML or for the field they land in.
pub const ODD_SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    ".nan",
    ".NaN",
    ".inf",
    "-.inf",
    "NaN",
    "Infinity",
    "-0",
    "-0.0",
    "5e-324",
    "1e308",
    "1e309",
    "-1e308",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "0x7fffffffffffffff",
    "0o777",
    "1_000",
    "-1",
    "0",
    "1",
    "true",
    "no",
    "'quoted'",
    "\"dq\\u0000\"",
    "\"\\ud800\"",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: {c: 1}}}",
    "&anchor 1",
    "*anchor",
    "*undefined",
    "!!binary aGVsbG8=",
    "!custom tag",
    "!!float x",
    "|\n  block",
    ">-",
    "'unterminated",
    "\"unterminated",
    "${scope}",
    "${nope}",
    "${",
    "é",
    "\u{202e}reversed",
    "\u{feff}bom",
    "🦀🦀🦀",
    "a\tb",
    "\u{0}",
    "x: y: z",
    "- a",
    "? k",
    "mann-whitney",
    "threshold",
    "quantile",
    "scale",
    "counts",
    "auto",
    "increase",
    "decrease",
    "either",
    "replace",
    "remove",
];

/// Whole lines to insert into a template.
const ODD_LINES: &[&str] = &[
    "---",
    "...",
    "%YAML 1.2",
    "%TAG ! tag:example.com,2000:",
    "name: other",
    "metrics: []",
    "metrics: *a",
    "base: &a {test: threshold, max: 1}",
    "  judge: *a",
    "<<: *a",
    "<<: [*a, *a]",
    "  - name: extra",
    "  - name: extra\n    query: up\n    judge: {test: counts, total: extra}",
    "    judge: {test: counts, total: p99_latency}",
    "    judge: {test: threshold, min: 1e308, max: -1e308}",
    "    judge: {test: quantile, quantile: 1.0}",
    "    judge: {outliers: {remove: true, factor: .nan}}",
    "groups: {a: 1e308, b: -1}",
    "groups: {'': 50}",
    "scoring: {pass: .nan, marginal: -.inf}",
    "scoring: {pass: 1e308, marginal: 1e308}",
    "step_seconds: 18446744073709551615",
    "step_seconds: 0",
    "args: {scope: {}}",
    "args: {x: {default: *a}}",
    "source: ''",
    "? [a, b]\n: c",
    "\t- tab",
    "- top level list",
    "'key with spaces': 1",
    "{",
    "[",
    "]",
    "}",
    ": :",
    "&a &b x",
    "!!map {}",
    "\u{feff}",
    "\u{0}",
    "🦀: 🦀",
];

/// A JSON value at an edge, or of a type a field does not take. Numbers JSON cannot hold as
/// numbers (`1e999`) are written with [`raw`] and spliced in by [`render_json`].
pub fn odd_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => select(vec![
            Value::Null,
            json!(true),
            json!(false),
            json!(""),
            json!(" "),
            json!("NaN"),
            json!("nan"),
            json!("Infinity"),
            json!("-Infinity"),
            json!("inf"),
            json!("1e308"),
            json!("-0"),
            json!("0"),
            json!("-1"),
            json!("18446744073709551616"),
            json!("2023-11-14T22:20:00Z"),
            json!("9999-12-31T23:59:59Z"),
            json!("+275760-09-13T00:00:00Z"),
            json!("1700000000"),
            json!("-62135596801"),
            json!("\u{202e}\u{0}é🦀"),
            json!("${scope}"),
            json!(0),
            json!(-0.0),
            json!(1),
            json!(-1),
            json!(5e-324),
            json!(1e308),
            json!(-1e308),
            json!(f64::MAX),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(0.5),
            json!(1e-300),
            json!([]),
            json!({}),
            json!([null]),
            json!([1e308, -1e308, 5e-324, -0.0]),
            json!({"a": {"b": {"c": [1, [2, [3]]]}}}),
            raw("1e999"),
            raw("-1e999"),
            raw("1e-999"),
            raw("123456789012345678901234567890"),
            raw("-0"),
            raw("0.0000000000000000000000000000000000000000001"),
        ]),
        1 => text(40).prop_map(Value::String),
        1 => (1usize..300).prop_map(nested_array),
        1 => (1usize..300).prop_map(nested_object),
        1 => (0usize..2000).prop_map(|n| json!("x".repeat(n))),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => any::<i64>().prop_map(|i| json!(i)),
    ]
}

/// A placeholder for a number that `serde_json::Value` cannot hold; [`render_json`] writes
/// the text as it is.
pub fn raw(text: &str) -> Value {
    json!(format!("\u{1}RAW:{text}\u{1}"))
}

fn nested_array(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

fn nested_object(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}

// ---------------------------------------------------------------------------------------------
// JSON mutation

/// One change to a JSON document.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Replace the node at (index into the list of all nodes) with a value.
    Replace(Index, Value),
    /// Remove the node (an object member or an array element).
    Remove(Index),
    /// Add a member or element to the node when it is an object or an array.
    Add(Index, String, Value),
    /// Repeat an array's elements (many points, many series).
    Repeat(Index, usize),
}

/// Up to `max` edits.
pub fn json_edits(max: usize) -> impl Strategy<Value = Vec<JsonEdit>> {
    let edit = prop_oneof![
        5 => (any::<Index>(), odd_json()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        2 => any::<Index>().prop_map(JsonEdit::Remove),
        2 => (any::<Index>(), select(vec!["extra", "", "metrics", "template", "data", "values", "error", "\u{0}"]), odd_json())
            .prop_map(|(i, k, v)| JsonEdit::Add(i, k.to_string(), v)),
        1 => (any::<Index>(), 2usize..8).prop_map(|(i, n)| JsonEdit::Repeat(i, n)),
    ];
    prop::collection::vec(edit, 0..=max)
}

fn node_count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(node_count).sum(),
        Value::Object(o) => o.values().map(node_count).sum(),
        _ => 0,
    }
}

/// The `n`-th node in pre-order.
fn nth_node<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| nth_node(c, n)),
        Value::Object(o) => o.values_mut().find_map(|c| nth_node(c, n)),
        _ => None,
    }
}

fn remove_nth(v: &mut Value, n: &mut usize) -> bool {
    match v {
        Value::Array(a) => {
            for i in 0..a.len() {
                if *n == 0 {
                    a.remove(i);
                    return true;
                }
                *n -= 1;
                if remove_nth(&mut a[i], n) {
                    return true;
                }
            }
            false
        }
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                if *n == 0 {
                    o.remove(&k);
                    return true;
                }
                *n -= 1;
                if let Some(c) = o.get_mut(&k) {
                    if remove_nth(c, n) {
                        return true;
                    }
                }
            }
            false
        }
        _ => false,
    }
}

/// Applies the edits in order.
pub fn apply_edits(mut doc: Value, edits: &[JsonEdit]) -> Value {
    for edit in edits {
        let count = node_count(&doc);
        match edit {
            JsonEdit::Replace(i, value) => {
                let mut n = i.index(count);
                if let Some(node) = nth_node(&mut doc, &mut n) {
                    *node = value.clone();
                }
            }
            JsonEdit::Remove(i) => {
                if count > 1 {
                    let mut n = i.index(count - 1);
                    remove_nth(&mut doc, &mut n);
                }
            }
            JsonEdit::Add(i, key, value) => {
                let mut n = i.index(count);
                if let Some(node) = nth_node(&mut doc, &mut n) {
                    match node {
                        Value::Object(o) => {
                            o.insert(key.clone(), value.clone());
                        }
                        Value::Array(a) => a.push(value.clone()),
                        _ => {}
                    }
                }
            }
            JsonEdit::Repeat(i, times) => {
                let mut n = i.index(count);
                if let Some(Value::Array(a)) = nth_node(&mut doc, &mut n) {
                    {
                        let copy = a.clone();
                        for _ in 1..*times {
                            a.extend(copy.iter().cloned());
                        }
                    }
                }
            }
        }
    }
    doc
}

/// The document as JSON text, with [`raw`] placeholders written as they are.
pub fn render_json(doc: &Value) -> String {
    let text = serde_json::to_string(doc).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\"\\u0001RAW:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "\"\\u0001RAW:".len()..];
        match after.find("\\u0001\"") {
            Some(end) => {
                out.push_str(&after[..end]);
                rest = &after[end + "\\u0001\"".len()..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A change to the bytes of a document after it is written.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    /// Leave it.
    None,
    /// Cut it at a point.
    Truncate(Index),
    /// Overwrite one byte.
    Set(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
}

/// Mostly none: most cases should get past the JSON parser.
pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        12 => Just(ByteEdit::None),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
    ]
}

/// Applies a byte edit.
pub fn apply_bytes(mut bytes: Vec<u8>, edit: &ByteEdit) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    match edit {
        ByteEdit::None => {}
        ByteEdit::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        ByteEdit::Set(i, b) => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        ByteEdit::Insert(i, b) => {
            let at = i.index(bytes.len());
            bytes.splice(at..at, b.iter().copied());
        }
    }
    bytes
}

/// A JSON document from `base`, edited, written, maybe byte-edited.
pub fn json_doc(
    base: impl Strategy<Value = Value>,
    max_edits: usize,
) -> impl Strategy<Value = Vec<u8>> {
    // A quarter of the documents go in unedited (but for their odd values), so that cases get
    // past the first check often enough to reach the deeper ones.
    let edits = prop_oneof![1 => Just(Vec::new()), 3 => json_edits(max_edits)];
    (base, edits, byte_edit()).prop_map(|(doc, edits, bytes)| {
        apply_bytes(render_json(&apply_edits(doc, &edits)).into_bytes(), &bytes)
    })
}

// ---------------------------------------------------------------------------------------------
// YAML mutation

/// One change to a template's text.
#[derive(Debug, Clone)]
pub enum TextEdit {
    /// Insert a line before line (index).
    Insert(Index, String),
    /// Delete a line.
    Delete(Index),
    /// Duplicate a line.
    Duplicate(Index),
    /// Replace the value after the first `: ` of a line (or the line) with a scalar.
    Scalar(Index, String),
    /// Indent or dedent a line by some spaces.
    Indent(Index, i8),
    /// Cut the text at a character.
    Truncate(Index),
}

fn deep_yaml() -> impl Strategy<Value = String> {
    (1usize..400, any::<bool>(), any::<bool>()).prop_map(|(depth, flow, seq)| {
        if flow {
            let (o, c) = if seq { ("[", "]") } else { ("{a: ", "}") };
            format!("deep: {}1{}", o.repeat(depth), c.repeat(depth))
        } else {
            let mut s = String::from("deep:\n");
            for d in 1..=depth.min(120) {
                s.push_str(&" ".repeat(d));
                s.push_str(if seq { "- \n" } else { "a:\n" });
            }
            s
        }
    })
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    let line = prop_oneof![
        4 => select(ODD_LINES).prop_map(str::to_string),
        1 => deep_yaml(),
        1 => text(30),
    ];
    let scalar = prop_oneof![
        5 => select(ODD_SCALARS).prop_map(str::to_string),
        1 => text(20),
        1 => (0usize..5000).prop_map(|n| "9".repeat(n)),
    ];
    prop_oneof![
        2 => (any::<Index>(), line).prop_map(|(i, l)| TextEdit::Insert(i, l)),
        2 => any::<Index>().prop_map(TextEdit::Delete),
        2 => any::<Index>().prop_map(TextEdit::Duplicate),
        5 => (any::<Index>(), scalar).prop_map(|(i, s)| TextEdit::Scalar(i, s)),
        1 => (any::<Index>(), -4i8..5).prop_map(|(i, d)| TextEdit::Indent(i, d)),
        1 => any::<Index>().prop_map(TextEdit::Truncate),
    ]
}

/// Applies text edits.
pub fn apply_text(text: &str, edits: &[TextEdit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for edit in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match edit {
            TextEdit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
            TextEdit::Delete(i) => {
                lines.remove(i.index(n));
            }
            TextEdit::Duplicate(i) => {
                let at = i.index(n);
                let l = lines[at].clone();
                lines.insert(at, l);
            }
            TextEdit::Scalar(i, s) => {
                let at = i.index(n);
                let l = &lines[at];
                lines[at] = match l.find(": ") {
                    Some(p) => format!("{}: {s}", &l[..p]),
                    None => match l.find("- ") {
                        Some(p) => format!("{}- {s}", &l[..p]),
                        None => s.clone(),
                    },
                };
            }
            TextEdit::Indent(i, d) => {
                let at = i.index(n);
                let l = &lines[at];
                lines[at] = if *d >= 0 {
                    format!("{}{l}", " ".repeat(*d as usize))
                } else {
                    let cut = l.len() - l.trim_start_matches(' ').len();
                    l[cut.min(d.unsigned_abs() as usize)..].to_string()
                };
            }
            TextEdit::Truncate(i) => {
                let joined = lines.join("\n");
                let cut = i.index(joined.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|c| joined.is_char_boundary(*c))
                    .unwrap_or(0);
                lines = joined[..cut].lines().map(str::to_string).collect();
            }
        }
    }
    lines.join("\n")
}

/// A real template, mutated.
pub fn template_text() -> impl Strategy<Value = String> {
    let bases = real_templates();
    prop_oneof![
        9 => (select(bases), prop::collection::vec(text_edit(), 0..6))
            .prop_map(|(t, e)| apply_text(&t, &e)),
        1 => text(200),
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A template generated from the judge's options, for the judge target: every test kind with
/// odd but mostly valid parameters.
pub fn judge_template() -> impl Strategy<Value = String> {
    let metric = (
        select(vec![
            "mann-whitney",
            "threshold",
            "quantile",
            "scale",
            "counts",
            "auto",
        ]),
        select(vec!["increase", "decrease", "either"]),
        select(vec![
            "0.5",
            "0.8",
            "0.95",
            "0.99",
            "0.999999",
            "0.9999999999999999",
        ]),
        select(vec!["1.0", "1.5", "1e308", "5e-324"]),
        select(vec!["remove", "replace"]),
        any::<(bool, bool, bool, bool)>(),
        select(vec!["1.5", "3.0", "1e308", "5e-324"]),
        select(vec!["0.5", "0.9", "0.99", "0.999", "0.999999"]),
        prop::option::of(select(vec![
            "0", "-1e308", "1e308", "5e-324", "-0.0", "0.01",
        ])),
        prop::option::of(select(vec!["0", "-1e308", "1e308", "5e-324", "1.5"])),
    );
    (prop::collection::vec(metric, 1..4), select(vec![(95, 75), (100, 100), (0, 0), (50, 10)]))
        .prop_map(|(metrics, (pass, marginal))| {
            let mut t = format!(
                "name: fuzz-judge\nstep_seconds: 10\nscoring: {{pass: {pass}, marginal: {marginal}}}\nmetrics:\n"
            );
            for (i, (test, direction, conf, allowed, nan, (critical, must, out, total), factor, q, lo, hi)) in
                metrics.iter().enumerate()
            {
                t.push_str(&format!(
                    "  - name: m{i}\n    group: g{}\n    query: 'q{{v=\"${{scope}}\"}}'\n    judge:\n      test: {test}\n      direction: {direction}\n      critical: {critical}\n      must_have_data: {must}\n      nan: {nan}\n",
                    i % 2
                ));
                if *test == "threshold" {
                    if let Some(lo) = lo {
                        t.push_str(&format!("      min: {lo}\n"));
                    }
                    if let Some(hi) = hi {
                        t.push_str(&format!("      max: {hi}\n"));
                    }
                    if lo.is_none() && hi.is_none() {
                        t.push_str("      max_increase_ratio: 1.5\n");
                    }
                } else {
                    t.push_str(&format!(
                        "      confidence: {conf}\n      allowed_increase: {allowed}\n      allowed_decrease: 1.0\n"
                    ));
                }
                if *test == "quantile" {
                    t.push_str(&format!("      quantile: {q}\n"));
                }
                if *test == "counts" && *total {
                    t.push_str("      total: requests\n");
                }
                if *out && *test != "counts" {
                    t.push_str(&format!("      outliers: {{remove: true, factor: {factor}}}\n"));
                }
            }
            if metrics.iter().any(|m| m.0 == "counts" && m.5 .3) {
                t.push_str("  - name: requests\n    query: 'r{v=\"${scope}\"}'\n    judge: {test: counts}\n");
            }
            t
        })
}

// ---------------------------------------------------------------------------------------------
// Backend answers

/// A window for the answer parsers: start, step and number of points.
pub fn window() -> impl Strategy<Value = (i64, u64, u64)> {
    (
        prop_oneof![Just(1_700_000_000i64), 0i64..4_000_000_000, Just(0)],
        prop_oneof![Just(10u64), Just(1), Just(60), Just(3600), 1u64..100_000],
        1u64..200,
    )
}

/// A timestamp for an answer: on the window's grid, near it, or at an edge.
fn answer_time(start: i64, step: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u64..220).prop_map(move |i| json!(start as f64 + (i * step) as f64)),
        1 => (0u64..220, -1.0f64..1.0).prop_map(move |(i, d)| json!(start as f64 + (i * step) as f64 + d)),
        1 => odd_json(),
    ]
}

/// A sample value as Prometheus writes it (a string) or something else.
fn prom_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => kayenta_number().prop_map(|v| json!(format!("{v}"))),
        2 => select(vec!["NaN", "+Inf", "-Inf", "1e308", "1e309", "-0", "5e-324", "", "x", "0x10", " 1"]).prop_map(|s| json!(s)),
        1 => odd_json(),
    ]
}

fn json_number(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v.is_nan() {
        raw("NaN")
    } else if v > 0.0 {
        raw("1e999")
    } else {
        raw("-1e999")
    }
}

/// A number or null as InfluxDB, Graphite and Datadog write values.
fn plain_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        5 => kayenta_number().prop_map(json_number),
        1 => Just(Value::Null),
        1 => odd_json(),
    ]
}

/// (status, body, window) for the Prometheus parser.
pub fn prometheus_answer() -> impl Strategy<Value = (u16, Vec<u8>, (i64, u64, u64))> {
    window().prop_flat_map(|w| {
        let point = (answer_time(w.0, w.1), prom_value()).prop_map(|(t, v)| json!([t, v]));
        let series = (
            prop::collection::btree_map(select(vec!["instance", "job", "version", "__name__", "é"]), text(8), 0..3),
            prop::collection::vec(point, 0..60),
        )
            .prop_map(|(m, v)| json!({"metric": m, "values": v}));
        let base = prop_oneof![
            6 => prop::collection::vec(series, 0..3).prop_map(|r| json!({"status": "success", "data": {"resultType": "matrix", "result": r}})),
            1 => Just(json!({"status": "error", "errorType": "bad_data", "error": "parse error"})),
            1 => Just(json!({"status": "success", "data": {"resultType": "vector", "result": []}})),
        ];
        (status(), json_doc(base, 3), Just(w))
    })
}

/// (status, body, window) for the InfluxDB parser.
pub fn influxdb_answer() -> impl Strategy<Value = (u16, Vec<u8>, (i64, u64, u64))> {
    window().prop_flat_map(|w| {
        let row = (answer_time(w.0, w.1), plain_value()).prop_map(|(t, v)| json!([t, v]));
        let series = (prop::collection::vec(row, 0..60), any::<bool>()).prop_map(|(values, tags)| {
            let mut s = json!({"name": "m", "columns": ["time", "mean"], "values": values});
            if tags {
                s["tags"] = json!({"version": "canary"});
            }
            s
        });
        let base = prop_oneof![
            6 => prop::collection::vec(series, 0..3).prop_map(|s| json!({"results": [{"statement_id": 0, "series": s}]})),
            1 => Just(json!({"results": [{"statement_id": 0, "error": "database not found: x"}]})),
            1 => Just(json!({"error": "error parsing query"})),
            1 => Just(json!({"results": [{"statement_id": 0}, {"statement_id": 1}]})),
        ];
        (status(), json_doc(base, 3), Just(w))
    })
}

/// (status, body, window) for the Graphite parser.
pub fn graphite_answer() -> impl Strategy<Value = (u16, Vec<u8>, (i64, u64, u64))> {
    window().prop_flat_map(|w| {
        let point = (plain_value(), answer_time(w.0, w.1)).prop_map(|(v, t)| json!([v, t]));
        let target = (chars("abc.*", 1, 10), prop::collection::vec(point, 0..60))
            .prop_map(|(name, d)| json!({"target": name, "tags": {"name": name}, "datapoints": d}));
        let base = prop::collection::vec(target, 0..3).prop_map(Value::Array);
        let html =
            Just(b"<html><body><h1>Server Error</h1><p>boom &amp; <b>more</p></body>".to_vec());
        let body = prop_oneof![6 => json_doc(base, 3).boxed(), 1 => html.boxed()];
        (status(), body, Just(w))
    })
}

/// (status, body, window) for the Datadog parser (timestamps in milliseconds).
pub fn datadog_answer() -> impl Strategy<Value = (u16, Vec<u8>, (i64, u64, u64))> {
    window().prop_flat_map(|w| {
        let ms = prop_oneof![
            4 => (0u64..220).prop_map(move |i| json!((w.0 as f64 + (i * w.1) as f64) * 1000.0)),
            1 => odd_json(),
        ];
        let point = (ms, plain_value()).prop_map(|(t, v)| json!([t, v]));
        let series = (prop::collection::vec(point, 0..60), prop::collection::vec(chars("abcz:", 1, 8), 0..3))
            .prop_map(|(p, tags)| json!({"metric": "m", "scope": "version:canary", "tag_set": tags, "expression": "avg:m{*}", "pointlist": p}));
        let base = prop_oneof![
            6 => prop::collection::vec(series, 0..3).prop_map(|s| json!({"status": "ok", "res_type": "time_series", "series": s})),
            1 => Just(json!({"status": "error", "error": "bad query"})),
            1 => Just(json!({"errors": ["Forbidden"]})),
        ];
        (status(), json_doc(base, 3), Just(w))
    })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        8 => Just(200u16),
        2 => select(vec![204u16, 301, 400, 401, 403, 404, 422, 429, 500, 502, 503]),
        1 => 0u16..1000,
    ]
}

// ---------------------------------------------------------------------------------------------
// Recorded data

/// Recorded data JSON: a real scenario cut short, or one made of Kayenta numbers, then edited.
pub fn recorded_json() -> impl Strategy<Value = Vec<u8>> {
    let scenarios: Vec<Value> = read_dir("fixtures/scenarios", "json")
        .into_iter()
        .filter(|(name, _)| name != "expected.json")
        .filter_map(|(_, text)| serde_json::from_str::<Value>(&text).ok())
        .map(shorten)
        .collect();
    let made = prop::collection::btree_map(
        select(vec!["p99_latency", "error_ratio", "m", "", "é"]),
        (kayenta_series(), kayenta_series()).prop_map(|(b, c)| {
            json!({
                "baseline": b.into_iter().map(|v| v.map_or(Value::Null, json_number)).collect::<Vec<_>>(),
                "canary": c.into_iter().map(|v| v.map_or(Value::Null, json_number)).collect::<Vec<_>>(),
            })
        }),
        0..4,
    )
    .prop_map(|m| json!({ "metrics": m }));
    let base = prop_oneof![select(scenarios), made];
    json_doc(base, 4)
}

/// A scenario with at most 30 points per side, so that edits land anywhere in it.
fn shorten(mut v: Value) -> Value {
    if let Some(metrics) = v.get_mut("metrics").and_then(Value::as_object_mut) {
        for m in metrics.values_mut() {
            for side in ["baseline", "canary"] {
                if let Some(a) = m.get_mut(side).and_then(Value::as_array_mut) {
                    a.truncate(30);
                }
            }
        }
    }
    v
}
