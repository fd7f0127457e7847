//! The configuration reference and JSON Schema, generated from the types in `model.rs`
//! (their doc comments and defaults), so the documentation cannot drift from the code.
//! `docs/configuration.md` and `docs/deploy.schema.json` are checked against these by
//! this crate's tests.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::Deploy;

/// JSON Schema (draft 2020-12) of deploy.yaml, for editors (yaml-language-server).
pub fn json_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<Deploy>();
    crate::json::sort_keys(serde_json::to_value(schema).unwrap_or_default())
}

/// One row per key, sorted by path: its type, default and meaning.
pub fn markdown() -> String {
    let schema = json_schema();
    let defs = schema.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    walk(&schema, "", None, &defs, &mut rows);
    let mut out = String::from(
        "# deploy.yaml reference\n\n\
         Generated from the configuration types (`crates/config/src/model.rs`) by\n\
         `crates/config/src/reference.rs`; a test fails when this file and the code differ\n\
         (`UPDATE_DOCS=1 cargo test -p temporalctl-config` rewrites it). Editors can validate\n\
         deploy.yaml with [`deploy.schema.json`](deploy.schema.json), generated the same way:\n\
         put `# yaml-language-server: $schema=docs/deploy.schema.json` on its first line.\n\n\
         Durations are written `90s`, `15m`, `1h 30m`. Every key but `version`, `project`,\n\
         `region` and the choice in `temporal.authorization` (`jwks_url`, or `allow_no_auth:\n\
         true`) may be left out; the defaults are a small development stack.\n\n\
         | key | type | default | meaning |\n| --- | --- | --- | --- |\n",
    );
    for (path, ty, default, doc) in rows {
        out.push_str(&format!("| `{path}` | {ty} | {default} | {doc} |\n"));
    }
    out
}

type Row = (String, String, String, String);

fn walk(node: &Value, path: &str, default: Option<&Value>, defs: &Map<String, Value>, rows: &mut Vec<Row>) {
    let node = resolve(node, defs);
    let Some(props) = node.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (key, field) in props {
        let full = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        // The parent's default describes this very instance (services.ui's image), so it
        // wins over the field type's own default.
        let own_default = default.and_then(|d| d.get(key)).or_else(|| field.get("default"));
        let target = resolve(field, defs);
        let doc = field.get("description").or_else(|| target.get("description")).and_then(Value::as_str);
        let nested = target.get("properties").is_some();
        let shown_default = match (own_default, nested) {
            (_, true) => String::new(),
            (None, _) if required.contains(&key.as_str()) => "**required**".into(),
            (None | Some(Value::Null), _) => "none".into(),
            (Some(v), _) => format!("`{}`", compact(v)),
        };
        rows.push((full.clone(), type_of(target, defs), shown_default, one_line(doc.unwrap_or(""))));
        if nested {
            walk(target, &full, own_default, defs, rows);
        }
        // A map of records (none today) would need its value schema walked too.
    }
}

/// Follow a `$ref` (possibly inside `allOf` or `anyOf` with null) to its definition.
fn resolve<'a>(node: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().and_then(|name| defs.get(name)).unwrap_or(node);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(first) =
            node.get(key).and_then(Value::as_array).and_then(|a| a.iter().find(|v| v.get("$ref").is_some()))
        {
            return resolve(first, defs);
        }
    }
    node
}

fn type_of(node: &Value, defs: &Map<String, Value>) -> String {
    if node.get("properties").is_some() {
        return "section".into();
    }
    let simple = |t: &Value| match t.as_str() {
        Some("integer") => "integer".to_string(),
        Some("string") => "string".to_string(),
        Some("boolean") => "boolean".to_string(),
        Some("number") => "number".to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    match node.get("type") {
        Some(Value::Array(types)) => {
            let named: Vec<String> = types.iter().filter(|t| t.as_str() != Some("null")).map(simple).collect();
            format!("{} (optional)", named.join(" or "))
        }
        Some(t) if t == "array" => {
            let items = node.get("items").map(|i| type_of(resolve(i, defs), defs)).unwrap_or_default();
            format!("list of {items}")
        }
        Some(t) if t == "object" => {
            let values = node
                .get("additionalProperties")
                .map(|v| type_of(resolve(v, defs), defs))
                .unwrap_or_else(|| "value".into());
            format!("map of {values}")
        }
        Some(t) => simple(t),
        None => "value".into(),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Table cells hold one line: doc paragraphs joined, pipes escaped.
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed file must equal `generated`; with UPDATE_DOCS=1, rewrite it instead.
    fn check(relative: &str, generated: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{relative} is out of date with the configuration types: run `UPDATE_DOCS=1 cargo test -p temporalctl-config` and commit it"
        );
    }

    #[test]
    fn the_committed_reference_and_schema_match_the_types() {
        check("docs/configuration.md", &markdown());
        check("docs/deploy.schema.json", &(serde_json::to_string_pretty(&json_schema()).unwrap() + "\n"));
    }

    #[test]
    fn the_user_facing_text_names_no_internal_planning_document() {
        // The seeds are this project's planning documents; a user has never seen them.
        let schema = serde_json::to_string(&json_schema()).unwrap();
        for (what, text) in [("docs/configuration.md", markdown()), ("docs/deploy.schema.json", schema)] {
            assert!(!text.to_lowercase().contains("seed"), "{what} mentions a seed");
        }
    }

    #[test]
    fn every_key_is_documented_with_its_default() {
        let md = markdown();
        for row in md.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert!(!cells[3].trim_end_matches(" |").is_empty(), "undocumented key: {row}");
        }
        assert!(md.contains("| `project` | string | **required** |"), "{md}");
        assert!(md.contains("| `node_groups.a.instance_type` | string | `m7g.large` |"), "{md}");
        assert!(md.contains("| `timeouts.opensearch` | string | `1h 30m` |"), "{md}");
        assert!(md.contains("| `services.ui.image` | string (optional) | `temporalio/ui:2.42.1` |"), "{md}");
    }
}
