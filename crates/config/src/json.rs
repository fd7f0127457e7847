//! JSON in one key order, whatever serde_json's features: with `preserve_order` (which
//! `aws-smithy-mocks` turns on for the whole test build, through `aws-smithy-http-client`'s
//! `test-util`) objects keep insertion order, without it they sort. Everything we compare,
//! generate or snapshot goes through [`sort_keys`], so the binary the tests run and the
//! released one write the same text.

use serde_json::{Map, Value};

/// The value with every object's keys in sorted order, at every depth.
pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect::<Map<_, _>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_sorted_at_every_depth() {
        let v = serde_json::json!({ "b": 1, "a": { "d": [{ "z": 1, "y": 2 }], "c": 3 } });
        assert_eq!(sort_keys(v).to_string(), r#"{"a":{"c":3,"d":[{"y":2,"z":1}]},"b":1}"#);
    }
}
