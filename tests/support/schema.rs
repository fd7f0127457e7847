//! A small JSON Schema checker for the subset `docs/*.schema.json` uses: `type` (one or
//! several), `required`, `properties`, `items`, `enum`, `additionalProperties`. Enough to
//! hold the binary's JSON to its published schema without a heavy dependency.

use serde_json::Value;

/// Every place `doc` breaks `schema`, as `path: problem`.
pub fn violations(schema: &Value, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, doc, "$", &mut out);
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, doc: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = type_name(doc);
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !ok {
            out.push(format!("{path}: is {actual}, schema wants {allowed:?}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(doc)
    {
        out.push(format!("{path}: {doc} is not one of {values:?}"));
    }
    if let Value::Object(map) = doc {
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                out.push(format!("{path}: required field `{key}` is missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, value) in map {
            let sub = format!("{path}.{key}");
            match (props.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
                (Some(s), _) => check(s, value, &sub, out),
                (None, Some(Value::Bool(false))) => out.push(format!("{sub}: not in the schema")),
                (None, Some(s @ Value::Object(_))) => check(s, value, &sub, out),
                (None, _) if props.is_some() => out.push(format!("{sub}: not in the schema (add it there first)")),
                _ => {}
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (doc, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(s, item, &format!("{path}[{i}]"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catches_what_it_claims_to() {
        let schema = json!({"type":"object","required":["a"],"properties":{"a":{"type":"integer"},"b":{"enum":["x"]}}});
        assert!(violations(&schema, &json!({"a": 1, "b": "x"})).is_empty());
        assert_eq!(violations(&schema, &json!({"b": "y", "c": 1})).len(), 3);
        assert_eq!(violations(&schema, &json!({"a": "1"})).len(), 1);
    }
}
