//! A small YAML node tree in which every node knows its line and column.
//!
//! `yaml-rust2`'s own tree drops positions, so this builds one from its event parser. Only what
//! a template needs is kept: scalars (with whether they were quoted), sequences and mappings in
//! source order (duplicate keys are kept so that the loader can report them). Aliases are expanded
//! within a node budget and a budget of expanded text bytes, both checked *before* an alias is
//! copied, so that a "billion laughs" document (or one large anchored scalar repeated by a
//! thousand aliases) is a diagnostic at the alias that breaks the budget, not an exhausted
//! machine; nesting is bounded for the same reason.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of sequences and mappings accepted; a template needs four or five levels.
const MAX_DEPTH: usize = 64;
/// Most nodes a document may have once aliases are expanded.
const MAX_NODES: usize = 100_000;
/// Least budget of text bytes (scalars, with the copies that anchors and aliases make): a
/// template is a few KiB.
const MIN_TEXT_BUDGET: usize = 4 << 20;
/// The text budget of a larger document, as a multiple of its length.
const TEXT_BUDGET_PER_INPUT_BYTE: usize = 2;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Pos {
    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }

    /// The start of the file.
    pub const START: Pos = Pos { line: 1, column: 1 };
}

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// Any other scalar, as written.
    Scalar {
        /// The text after YAML unescaping.
        text: String,
        /// True when quoted, a block scalar or tagged `!!str`: always a string, never a number.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, entries in source order, duplicates kept.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How this kind of node is called in messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Scalar { quoted: true, .. } => "a string",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A problem found while reading YAML: where, the path of the field being read, what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlProblem {
    /// Where.
    pub pos: Pos,
    /// Dotted path of the innermost field open at that point (empty at the top).
    pub field: String,
    /// What.
    pub message: String,
}

/// The one document of `text`, or `None` when there is none; problems found on the way.
///
/// A syntax error ends reading (the tree is then `None`); a second document, tags and oversized
/// documents are reported too.
pub(crate) fn parse_document(text: &str) -> (Option<Node>, Vec<YamlProblem>) {
    let mut builder = Builder {
        text_budget: MIN_TEXT_BUDGET.max(text.len().saturating_mul(TEXT_BUDGET_PER_INPUT_BYTE)),
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((Event::DocumentStart, marker)) if builder.documents > 0 => {
                // The first document is still worth checking; the rest is not read.
                builder.problems.push(YamlProblem {
                    pos: Pos::from_marker(marker),
                    field: String::new(),
                    message: "a template file holds one YAML document, but a second one \
                              starts here"
                        .into(),
                });
                break;
            }
            Ok((event, marker)) => {
                if let Err(problem) = builder.on_event(event, marker) {
                    builder.problems.push(problem);
                    return (None, builder.problems);
                }
            }
            Err(error) => {
                let field = builder.path();
                builder.problems.push(YamlProblem {
                    pos: Pos::from_marker(*error.marker()),
                    field,
                    message: format!("YAML syntax error: {}", error.info()),
                });
                return (None, builder.problems);
            }
        }
    }
    (builder.document, builder.problems)
}

/// A container being built.
#[derive(Debug)]
enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Each anchored node with its size (nodes, text bytes), so that an alias is counted before
    /// it is copied.
    anchors: HashMap<usize, (Node, Size)>,
    document: Option<Node>,
    documents: usize,
    nodes: usize,
    /// Text bytes held so far, copies included.
    text_bytes: usize,
    text_budget: usize,
    problems: Vec<YamlProblem>,
}

/// How much a node holds: nodes and scalar text bytes, its descendants included.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Builder {
    /// The dotted path of the innermost open field, as the loader spells paths.
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Frame::Map { key: Some(key), .. } => {
                    if let Value::Scalar { text, .. } = &key.value {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(text);
                    }
                }
                Frame::Map { .. } => {}
            }
        }
        path
    }

    fn on_event(&mut self, event: Event, marker: Marker) -> Result<(), YamlProblem> {
        let pos = Pos::from_marker(marker);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart => {
                self.documents += 1;
                Ok(())
            }
            Event::Alias(id) => {
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return Err(self.problem(pos, "alias to an unknown anchor".into()));
                };
                // Counted first: the copy is made only within the budgets.
                self.count(pos, size.nodes)?;
                self.count_text(pos, size.bytes, true)?;
                let value = self.anchors[&id].0.value.clone();
                self.push_node(Node { pos, value }, 0)
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(pos, 1)?;
                self.count_text(pos, text.len(), false)?;
                let forced_string =
                    self.check_tag(pos, tag.as_ref(), &["str", "null", "bool", "int", "float"])?;
                let quoted = forced_string || !matches!(style, TScalarStyle::Plain);
                let value = if !quoted && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar { text, quoted }
                };
                self.push_node(Node { pos, value }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.count(pos, 1)?;
                self.check_tag(pos, tag.as_ref(), &["seq"])?;
                self.open(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                })
            }
            Event::MappingStart(anchor, tag) => {
                self.count(pos, 1)?;
                self.check_tag(pos, tag.as_ref(), &["map"])?;
                self.open(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                })
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => self.push_node(
                    Node {
                        pos,
                        value: Value::Seq(items),
                    },
                    anchor,
                ),
                _ => Err(self.problem(pos, "unbalanced end of a list".into())),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => {
                    // A block mapping's start marker lies after its first key; the mapping
                    // starts where that key does.
                    let pos = entries.first().map_or(pos, |(k, _)| k.pos.min(pos));
                    self.push_node(
                        Node {
                            pos,
                            value: Value::Map(entries),
                        },
                        anchor,
                    )
                }
                _ => Err(self.problem(pos, "unbalanced end of a mapping".into())),
            },
        }
    }

    fn problem(&self, pos: Pos, message: String) -> YamlProblem {
        YamlProblem {
            pos,
            field: self.path(),
            message,
        }
    }

    fn count(&mut self, pos: Pos, nodes: usize) -> Result<(), YamlProblem> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(self.problem(
                pos,
                format!("the document has more than {MAX_NODES} nodes once aliases are expanded"),
            ));
        }
        Ok(())
    }

    /// Counts `bytes` more of text (`alias`: repeated by an alias at `pos`).
    fn count_text(&mut self, pos: Pos, bytes: usize, alias: bool) -> Result<(), YamlProblem> {
        self.text_bytes = self.text_bytes.saturating_add(bytes);
        if self.text_bytes <= self.text_budget {
            return Ok(());
        }
        let what = if alias {
            format!("this alias repeats {bytes} bytes, and ")
        } else {
            String::new()
        };
        Err(self.problem(
            pos,
            format!(
                "{what}the document would hold more than {} bytes of text once aliases are \
                 expanded (at most {} MiB, or {TEXT_BUDGET_PER_INPUT_BYTE}× the file's size); \
                 repeat less through anchors and aliases",
                self.text_budget,
                MIN_TEXT_BUDGET >> 20
            ),
        ))
    }

    /// Accepts the YAML core-schema tags in `allowed` (true for `!!str`); reports any other.
    fn check_tag(
        &mut self,
        pos: Pos,
        tag: Option<&Tag>,
        allowed: &[&str],
    ) -> Result<bool, YamlProblem> {
        let Some(tag) = tag else { return Ok(false) };
        if tag.handle == "tag:yaml.org,2002:" && allowed.contains(&tag.suffix.as_str()) {
            return Ok(tag.suffix == "str");
        }
        let shown = if tag.handle == "tag:yaml.org,2002:" {
            format!("!!{}", tag.suffix)
        } else {
            format!("{}{}", tag.handle, tag.suffix)
        };
        let problem = self.problem(
            pos,
            format!("YAML tag `{shown}` is not supported here; remove it"),
        );
        self.problems.push(problem);
        Ok(false)
    }

    fn open(&mut self, frame: Frame) -> Result<(), YamlProblem> {
        if self.stack.len() >= MAX_DEPTH {
            let pos = match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => *pos,
            };
            return Err(self.problem(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels is not supported"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn push_node(&mut self, node: Node, anchor: usize) -> Result<(), YamlProblem> {
        if anchor != 0 {
            // The anchor's copy is text held too (nested anchors each copy their subtree).
            let size = size_of_node(&node);
            self.count_text(node.pos, size.bytes, false)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                self.document = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, key, .. }) => {
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => {
                        // An empty value is marked where the next token is, often the next
                        // line; its key is where a reader looks for it.
                        let mut node = node;
                        if node.value == Value::Null && node.pos.line > k.pos.line {
                            node.pos = k.pos;
                        }
                        entries.push((k, node));
                    }
                }
                Ok(())
            }
        }
    }
}

fn size_of_node(node: &Node) -> Size {
    let add = |a: Size, b: Size| Size {
        nodes: a.nodes.saturating_add(b.nodes),
        bytes: a.bytes.saturating_add(b.bytes),
    };
    let one = Size { nodes: 1, bytes: 0 };
    match &node.value {
        Value::Null => one,
        Value::Scalar { text, .. } => Size {
            nodes: 1,
            bytes: text.len(),
        },
        Value::Seq(items) => items.iter().map(size_of_node).fold(one, add),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| add(size_of_node(k), size_of_node(v)))
            .fold(one, add),
    }
}

/// YAML 1.2 core-schema nulls (the empty scalar included).
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        match &node.value {
            Value::Scalar { text, .. } => text,
            _ => "",
        }
    }

    #[test]
    fn positions_are_one_based_and_block_mappings_start_at_their_first_key() {
        let (doc, problems) = parse_document("name: x\nmetrics:\n  - name: a\n");
        assert!(problems.is_empty(), "{problems:?}");
        let Some(Node {
            pos,
            value: Value::Map(entries),
        }) = doc
        else {
            panic!("not a mapping");
        };
        assert_eq!(pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[0].1.pos, Pos { line: 1, column: 7 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a list")
        };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
    }

    #[test]
    fn aliases_are_expanded_and_bombs_are_refused() {
        let (doc, problems) = parse_document("a: &x hello\nb: *x\n");
        assert!(problems.is_empty());
        let Some(Node {
            value: Value::Map(entries),
            ..
        }) = doc
        else {
            panic!("not a mapping");
        };
        assert_eq!(scalar(&entries[1].1), "hello");

        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (doc, problems) = parse_document(&bomb);
        assert!(doc.is_none());
        assert!(problems[0].message.contains("aliases"), "{problems:?}");
    }

    #[test]
    fn odd_documents_give_problems_not_panics() {
        for text in [
            "",
            "---\n",
            "a: 1\n---\nb: 2\n",
            "!foo {a: 1}",
            "[[[[[[[[[[",
            &"[".repeat(10_000),
            "a:\n",
            "a: *nope",
            "\t- x",
            "? [a, b]\n: c\n",
            "a: !!binary aGVsbG8=",
        ] {
            let _ = parse_document(text);
        }
        let deep: String = (0..200)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        let (doc, problems) = parse_document(&deep);
        assert!(doc.is_none());
        assert!(problems[0].message.contains("nesting"), "{problems:?}");
    }

    #[test]
    fn a_second_document_is_reported() {
        let (_, problems) = parse_document("a: 1\n---\nb: 2\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pos.line, 2);
        assert!(problems[0].message.contains("second"));
    }

    #[test]
    fn a_large_scalar_repeated_by_aliases_is_refused_at_the_alias_that_breaks_the_budget() {
        // Issue 12 (8): one 2 MB anchored scalar and 1,000 aliases took 2 GB.
        let mut text = format!("big: &big \"{}\"\nmany:\n", "x".repeat(2 << 20));
        for _ in 0..1000 {
            text.push_str("  - *big\n");
        }
        let started = std::time::Instant::now();
        let (doc, problems) = parse_document(&text);
        assert!(doc.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(
            p.message
                .contains("bytes of text once aliases are expanded"),
            "{p:?}"
        );
        assert!(
            p.message.contains("this alias repeats 2097152 bytes"),
            "{p:?}"
        );
        // The budget (2x the 2 MiB file) breaks at the first alias: the anchor's own copy and
        // the scalar already hold 4 MiB.
        assert_eq!(p.pos, Pos { line: 3, column: 5 });
        assert_eq!(p.field, "many[0]");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));

        // A small "billion laughs" of text: 10^4 copies of 1 KiB is only 10^4 nodes (under
        // the node budget) but 10 MiB of text.
        let mut laughs = format!("a0: &a0 \"{}\"\n", "l".repeat(1024));
        for i in 1..5 {
            let p = i - 1;
            laughs.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 10].join(", ")
            ));
        }
        let (doc, problems) = parse_document(&laughs);
        assert!(doc.is_none());
        assert!(
            problems[0].message.contains("bytes of text"),
            "{problems:?}"
        );
        assert_eq!(problems[0].pos.line, 5, "{problems:?}");
    }

    #[test]
    fn small_aliases_keep_working() {
        let text = "defaults: &d {test: mann-whitney, direction: increase}\n\
                    metrics:\n  - {name: a, judge: *d}\n  - {name: b, judge: *d}\n";
        let (doc, problems) = parse_document(text);
        assert!(problems.is_empty(), "{problems:?}");
        let Some(Node {
            value: Value::Map(entries),
            ..
        }) = doc
        else {
            panic!("not a mapping");
        };
        let Value::Seq(metrics) = &entries[1].1.value else {
            panic!("not a list")
        };
        let judge = |m: &Node| match &m.value {
            Value::Map(e) => e[1].1.value.clone(),
            _ => Value::Null,
        };
        assert_eq!(metrics.len(), 2);
        assert_eq!(judge(&metrics[0]), entries[0].1.value);
        assert_eq!(judge(&metrics[1]), entries[0].1.value);
    }
}
