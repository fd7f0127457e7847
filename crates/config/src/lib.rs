//! `deploy.yaml`: types, defaults and validation. No AWS, no IO beyond reading the file.
//!
//! Loading runs in two stages, like ripgrep's low/high args: serde builds the typed
//! [`Deploy`] (collecting every unknown key on the way), then [`validate`] checks what
//! AWS would reject and reports every problem at once, each with its field path and
//! line/column.

pub mod capacity;
pub mod dsql_budget;
pub mod image;
pub mod json;
mod locate;
mod model;
mod network;
mod problem;
pub mod reference;
mod suggest;
mod validate;

use std::path::Path;

pub use locate::LineCol;
pub use model::*;
pub use network::{
    FrontendClient, NetworkLayout, availability_zones, frontend_clients, ingress_clients, network_layout,
};
pub use problem::{ConfigErrors, Problem};
pub use validate::validate;

/// The largest deployment file read: a real one is a few kilobytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Read and validate a deployment file. A file over [`MAX_FILE_BYTES`] is refused before
/// more than that is read or any of it parsed.
pub fn load(path: &Path) -> Result<Deploy, ConfigErrors> {
    use std::io::Read;
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| ConfigErrors {
        file: file.clone(),
        problems: vec![Problem::new(
            "",
            format!("cannot read the file ({e}); pass the deployment file with --config PATH"),
        )],
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_big(&file));
    }
    let src =
        String::from_utf8(bytes).map_err(|e| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    parse(&src, &file)
}

fn too_big(file: &str) -> ConfigErrors {
    ConfigErrors {
        file: file.to_string(),
        problems: vec![Problem::new(
            "",
            format!(
                "the file is over {} KiB, the most temporalctl reads (a deploy.yaml is a few KiB): check that --config names the deployment file",
                MAX_FILE_BYTES >> 10
            ),
        )],
    }
}

/// Parse and validate deployment text; `file` only names it in messages.
pub fn parse(src: &str, file: &str) -> Result<Deploy, ConfigErrors> {
    if src.len() > MAX_FILE_BYTES {
        return Err(too_big(file));
    }
    let locations = locate::index(src);
    let fail = |mut problems: Vec<Problem>| {
        for p in &mut problems {
            if p.at.is_none() {
                p.at = locations.find(&p.path);
            }
        }
        problems.sort_by_key(|p| p.at.map(|a| (a.line, a.column)));
        ConfigErrors { file: file.to_string(), problems }
    };

    // Comments and blank lines only: say so, rather than "unexpected end of input".
    if src.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(fail(vec![Problem::new(
            "",
            "the file is empty: it needs at least `version: 1`, `project`, `region` and `temporal.authorization` (the repository's deploy.yaml documents every key)",
        )]));
    }
    let mut unknown = Vec::new();
    let mut failed_at: Option<String> = None;
    let parsed = serde_saphyr::with_deserializer_from_str(src, |de| {
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
        let de = serde_ignored::Deserializer::new(de, &mut note_unknown);
        // The error must leave the closure as an error, or the parser reads the rest of
        // the document as a second one; the field path rides along beside it.
        serde_path_to_error::deserialize::<_, Deploy>(de).map_err(|e| {
            failed_at = Some(error_path(e.path()));
            e.into_inner()
        })
    });
    let deploy = match parsed {
        Ok(deploy) => deploy,
        Err(e) => {
            let message = match &failed_at {
                Some(_) => explain_serde(&e),
                None => format!("not valid YAML: {}", explain_serde(&e)),
            };
            let mut problem = Problem::new(failed_at.unwrap_or_default(), message);
            problem.at = e.location().map(|l| LineCol { line: l.line() as usize, column: l.column() as usize });
            return Err(fail(vec![problem]));
        }
    };

    let mut problems: Vec<Problem> = unknown.iter().map(|path| suggest::unknown_key(path)).collect();
    if let Err(mut more) = validate(&deploy) {
        problems.append(&mut more);
    }
    if problems.is_empty() { Ok(deploy) } else { Err(fail(problems)) }
}

/// The deserializer's own message, without the location it also carries (we print ours).
/// The parser's message in the user's terms: the location is printed beside it already,
/// and Rust type names or library options mean nothing to someone editing YAML.
fn explain_serde(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let first = first.split(" at line ").next().unwrap_or(first).trim_start_matches("error: ");
    let first = strip_location(first);
    if let Some(key) = first.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        return format!("`{key}` is set twice in the same mapping; keep one");
    }
    match first {
        "invalid u32" | "invalid u16" | "invalid u64" | "invalid i32" => {
            "expected a whole number, 0 or more (no sign, no quotes)".into()
        }
        "invalid boolean" => "expected true or false".into(),
        "expected string scalar" => "expected a single text value here, not a list or mapping".into(),
        other => other.to_string(),
    }
}

/// "line 5 column 30: invalid boolean" → "invalid boolean".
fn strip_location(message: &str) -> &str {
    match message.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((at, rest)) if at.contains(" column ") => rest,
        _ => message,
    }
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => locate::join_index(&ignored_path(parent), *index),
        P::Map { parent, key } => locate::join_key(&ignored_path(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => ignored_path(parent),
    }
}

fn error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment as S;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            S::Seq { index } => out = locate::join_index(&out, *index),
            S::Map { key } => out = locate::join_key(&out, key),
            S::Enum { variant } => out = locate::join_key(&out, variant),
            S::Unknown => {}
        }
    }
    out
}
