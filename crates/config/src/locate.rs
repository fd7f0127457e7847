//! Where each field path sits in the YAML text, so that every problem can name its
//! line and column, not only the first one the deserializer trips over.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// 1-based line and column of a key (for mapping entries) or an item (for sequences).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct Locations(HashMap<String, LineCol>);

impl Locations {
    /// The position of `path`, or of its nearest ancestor that is in the file.
    pub fn find(&self, path: &str) -> Option<LineCol> {
        let mut p = path;
        loop {
            if let Some(at) = self.0.get(p) {
                return Some(*at);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// What the index keeps at most. A deploy.yaml is a few kilobytes with keys five deep;
/// hostile text (deep nesting, a huge key over many children) must not make it grow
/// without bound. A longer key is not indexed (its position falls back to the nearest
/// indexed ancestor); past the depth or the total, the rest of the file is not indexed
/// (the deserializer refuses nesting past 64 levels itself, naming its position).
const MAX_DEPTH: usize = 64; // serde-saphyr's own default nesting budget
const MAX_KEY_BYTES: usize = 256;
const MAX_INDEXED_BYTES: usize = 16 << 20;

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Index every key and item of the first document. Syntax errors end the walk early:
/// the deserializer reports those itself, with their position.
pub fn index(src: &str) -> Locations {
    let mut out = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut indexed_bytes = 0;
    for item in Parser::new_from_str(src) {
        let Ok((event, span)) = item else { break };
        if stack.len() > MAX_DEPTH || indexed_bytes > MAX_INDEXED_BYTES {
            break;
        }
        let at = LineCol { line: span.start.line(), column: span.start.col() + 1 };
        // The path a new node gets from its parent, recording its position on the way.
        let mut child_path = |stack: &mut Vec<Frame>, is_scalar: bool, text: Option<&str>| -> Option<String> {
            match stack.last_mut() {
                None => Some(String::new()),
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        // This node is a key.
                        if let Some(k) = text.filter(|k| is_scalar && k.len() <= MAX_KEY_BYTES) {
                            let p = join_key(path, k);
                            indexed_bytes += p.len();
                            out.insert(p, at);
                            *key = Some(k.to_string());
                        } else {
                            *key = Some(String::from("?"));
                        }
                        None
                    }
                    Some(k) => Some(join_key(path, &k)),
                },
                Some(Frame::Seq { path, next }) => {
                    let p = join_index(path, *next);
                    *next += 1;
                    indexed_bytes += p.len();
                    out.insert(p.clone(), at);
                    Some(p)
                }
            }
        };
        match event {
            Event::Scalar(text, ..) => {
                child_path(&mut stack, true, Some(&text));
            }
            Event::Alias(_) => {
                child_path(&mut stack, true, None);
            }
            Event::MappingStart(..) => {
                let path = child_path(&mut stack, false, None).unwrap_or_default();
                stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = child_path(&mut stack, false, None).unwrap_or_default();
                stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    Locations(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_items_and_falls_back_to_ancestors() {
        let src = "project: x\nnetwork:\n  vpc_cidr: 10.0.0.0/16\n  availability_zones:\n    - us-east-1a\n    - us-east-1b\n";
        let loc = index(src);
        assert_eq!(loc.find("project"), Some(LineCol { line: 1, column: 1 }));
        assert_eq!(loc.find("network.vpc_cidr"), Some(LineCol { line: 3, column: 3 }));
        assert_eq!(loc.find("network.availability_zones[1]"), Some(LineCol { line: 6, column: 7 }));
        assert_eq!(loc.find("network.missing"), Some(LineCol { line: 2, column: 1 }));
        assert_eq!(loc.find("nowhere"), None);
    }

    /// Issue 19: hostile text cannot make the index allocate without bound.
    #[test]
    fn the_index_stays_small_whatever_the_text() {
        let size = |loc: &Locations| loc.0.keys().map(String::len).sum::<usize>();
        // A long key over many children: each child's path would repeat the key.
        let key = "k".repeat(400_000);
        let mut src = format!("{key}:\n");
        for i in 0..100_000 {
            src.push_str(&format!("  c{i}: 1\n"));
        }
        assert!(size(&index(&src)) < 2 << 20, "{}", size(&index(&src)));
        // Deep nesting: paths grow with the depth.
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(size(&index(&deep)) <= MAX_INDEXED_BYTES + 4096);
        // Deploy.yaml's own shape is still indexed in full.
        assert!(index("a:\n  b:\n    c: [1, 2]\n").find("a.b.c[1]").is_some());
    }
}
