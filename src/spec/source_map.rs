//! A first pass over the YAML text: enforces size limits (depth, alias
//! expansion) before any deserializer sees it, reports syntax errors with
//! their line and column, and records where every key and list item starts so
//! that later errors can point at the offending line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Deepest nesting of mappings and lists accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may hold once aliases are expanded.
pub const MAX_EXPANDED_NODES: u64 = 100_000;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Location {
    fn from(m: Marker) -> Self {
        Location { line: m.line(), column: m.col() + 1 }
    }
}

/// Why the first pass refused the text.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanFailure {
    pub message: String,
    pub location: Option<Location>,
}

/// Key path (mapping keys and list indices) -> where it is written.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    locations: HashMap<Vec<String>, Location>,
}

impl SourceMap {
    /// Scans `text`, or says why it cannot be accepted.
    pub fn scan(text: &str) -> Result<SourceMap, ScanFailure> {
        let mut recv = Receiver::default();
        let mut parser = Parser::new_from_str(text);
        let parsed = parser.load(&mut recv, false);
        if let Some(failure) = recv.failure {
            return Err(failure);
        }
        parsed.map_err(|e| ScanFailure { message: format!("YAML syntax error: {}", e.info()), location: Some((*e.marker()).into()) })?;
        Ok(SourceMap { locations: recv.locations })
    }

    /// Where the longest written prefix of `path` starts.
    pub fn locate(&self, path: &[String]) -> Option<Location> {
        (1..=path.len()).rev().find_map(|n| self.locations.get(&path[..n]).copied())
    }
}

enum Frame {
    Map { path: Vec<String>, pending_key: Option<String>, size: u64, anchor: usize },
    Seq { path: Vec<String>, index: usize, size: u64, anchor: usize },
}

impl Frame {
    fn size_mut(&mut self) -> &mut u64 {
        match self {
            Frame::Map { size, .. } | Frame::Seq { size, .. } => size,
        }
    }
}

#[derive(Default)]
struct Receiver {
    stack: Vec<Frame>,
    anchors: HashMap<usize, u64>,
    locations: HashMap<Vec<String>, Location>,
    failure: Option<ScanFailure>,
}

impl Receiver {
    fn fail(&mut self, message: String, mark: Marker) {
        if self.failure.is_none() {
            self.failure = Some(ScanFailure { message, location: Some(mark.into()) });
        }
    }

    /// The path a value arriving now belongs to, recording list items.
    fn child_path(&mut self, mark: Marker) -> Vec<String> {
        match self.stack.last_mut() {
            Some(Frame::Map { path, pending_key, .. }) => {
                let mut p = path.clone();
                p.push(pending_key.clone().unwrap_or_default());
                p
            }
            Some(Frame::Seq { path, index, .. }) => {
                let mut p = path.clone();
                p.push(index.to_string());
                self.locations.entry(p.clone()).or_insert(mark.into());
                p
            }
            None => Vec::new(),
        }
    }

    /// Accounts a finished value of `size` expanded nodes to its parent.
    fn finish_value(&mut self, size: u64, anchor: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, size);
        }
        let Some(parent) = self.stack.last_mut() else { return };
        let total = parent.size_mut().saturating_add(size);
        *parent.size_mut() = total;
        match parent {
            Frame::Map { pending_key, .. } => *pending_key = None,
            Frame::Seq { index, .. } => *index += 1,
        }
        if total > MAX_EXPANDED_NODES {
            self.fail(
                format!(
                    "the document expands to more than {MAX_EXPANDED_NODES} nodes (through aliases); \
                     write the values out or reduce the repetition"
                ),
                mark,
            );
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { pending_key: None, .. }))
    }

    fn open(&mut self, is_map: bool, anchor: usize, mark: Marker) {
        if self.expecting_key() {
            self.fail("mappings and lists cannot be used as keys".into(), mark);
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.fail(format!("the document nests deeper than {MAX_DEPTH} levels"), mark);
            return;
        }
        let path = self.child_path(mark);
        self.stack.push(if is_map {
            Frame::Map { path, pending_key: None, size: 1, anchor }
        } else {
            Frame::Seq { path, index: 0, size: 1, anchor }
        });
    }

    fn close(&mut self, mark: Marker) {
        if let Some(frame) = self.stack.pop() {
            let (size, anchor) = match frame {
                Frame::Map { size, anchor, .. } | Frame::Seq { size, anchor, .. } => (size, anchor),
            };
            self.finish_value(size, anchor, mark);
        }
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.failure.is_some() {
            return;
        }
        match ev {
            Event::Scalar(value, _, anchor, _) => {
                if self.expecting_key() {
                    if let Some(Frame::Map { path, pending_key, .. }) = self.stack.last_mut() {
                        let mut p = path.clone();
                        p.push(value.clone());
                        *pending_key = Some(value);
                        self.locations.entry(p).or_insert(mark.into());
                    }
                } else {
                    self.child_path(mark);
                    self.finish_value(1, anchor, mark);
                }
            }
            Event::Alias(id) => {
                if self.expecting_key() {
                    self.fail("aliases cannot be used as keys".into(), mark);
                    return;
                }
                self.child_path(mark);
                let size = self.anchors.get(&id).copied().unwrap_or(1);
                self.finish_value(size, 0, mark);
            }
            Event::MappingStart(anchor, _) => self.open(true, anchor, mark),
            Event::SequenceStart(anchor, _) => self.open(false, anchor, mark),
            Event::MappingEnd | Event::SequenceEnd => self.close(mark),
            _ => {}
        }
    }
}
