//! Requests checked against AWS's own API models: the JSON models botocore ships
//! (`botocore/data/<service>/<version>/service-2.json`, unpacked by
//! `scripts/install-emulator` into `.venv/models/<service>.json`). The emulator accepts
//! requests AWS rejects; these models say what AWS accepts: required members, types,
//! enums, lengths, ranges, patterns, unknown members.
//!
//! Covered: the JSON protocols (ECS, Logs, Secrets Manager, SSM, ECR, Cloud Map, Auto
//! Scaling's neighbours) and REST-JSON (DSQL, OpenSearch, AMP), whose bodies are JSON.
//! The query protocols (EC2, IAM, Auto Scaling, STS) are form-encoded and not checked yet.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

/// One service's model.
struct Service {
    operations: Map<String, Value>,
    shapes: Map<String, Value>,
}

/// Every model in a directory, by signing name (`ecs`, `es`, `aps`…).
#[derive(Default)]
pub struct Models {
    services: HashMap<String, Service>,
    /// Patterns the `regex-lite` engine cannot compile (Unicode classes): skipped.
    patterns: std::sync::Mutex<HashMap<String, Option<regex_lite::Regex>>>,
}

impl Models {
    pub fn load(dir: &Path) -> std::io::Result<Models> {
        let mut services = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let mut model: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(std::io::Error::other)?;
            let meta = &model["metadata"];
            let Some(name) = meta["signingName"].as_str().or(meta["endpointPrefix"].as_str()).map(String::from) else {
                continue;
            };
            let take = |v: &mut Value, k: &str| v.get_mut(k).map(Value::take).and_then(|v| v.as_object().cloned());
            let operations = take(&mut model, "operations").unwrap_or_default();
            let shapes = take(&mut model, "shapes").unwrap_or_default();
            services.insert(name, Service { operations, shapes });
        }
        Ok(Models { services, patterns: Default::default() })
    }

    /// What AWS would refuse in this request, one line per violation; `None` when the
    /// request is not one this module checks (a query protocol, an unknown service).
    pub fn check(&self, service: &str, operation: &str, method: &str, path: &str, body: &str) -> Option<Vec<String>> {
        let svc = self.services.get(service)?;
        let (name, op) = match operation.split_once(' ') {
            // REST: `GET /cluster/abc` is matched against the operations' URI templates.
            Some(_) => rest_operation(svc, method, path.split('?').next().unwrap_or(path))?,
            None => (operation.to_string(), svc.operations.get(operation)?),
        };
        let is_json_body = body.trim_start().starts_with('{') || body.trim().is_empty();
        if !is_json_body {
            return None; // form-encoded: a query protocol
        }
        let doc: Value =
            if body.trim().is_empty() { Value::Object(Map::new()) } else { serde_json::from_str(body).ok()? };
        let mut out = Vec::new();
        if let Some(input) = op["input"]["shape"].as_str() {
            self.structure(svc, input, &doc, &name, true, &mut out);
        }
        Some(out.into_iter().map(|v| format!("{service} {name}: {v}")).collect())
    }

    fn structure(&self, svc: &Service, shape: &str, v: &Value, at: &str, top: bool, out: &mut Vec<String>) {
        let Some(s) = svc.shapes.get(shape) else { return };
        let Some(obj) = v.as_object() else {
            return out.push(format!("{at}: expected an object ({shape})"));
        };
        let members = s["members"].as_object().cloned().unwrap_or_default();
        // REST members bound to the URI, query string or headers are not in the body.
        let in_body = |m: &Value| !top || m.get("location").is_none();
        for req in s["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if members.get(req).is_some_and(in_body) && !obj.contains_key(req) {
                out.push(format!("{at}.{req}: required, missing"));
            }
        }
        for (k, value) in obj {
            match members.get(k) {
                None => out.push(format!("{at}.{k}: not a member of {shape}")),
                Some(m) => {
                    if let Some(target) = m["shape"].as_str() {
                        self.value(svc, target, value, &format!("{at}.{k}"), out);
                    }
                }
            }
        }
    }

    fn value(&self, svc: &Service, shape: &str, v: &Value, at: &str, out: &mut Vec<String>) {
        let Some(s) = svc.shapes.get(shape) else { return };
        if v.is_null() {
            return;
        }
        let (min, max) = (s["min"].as_f64(), s["max"].as_f64());
        let range = |n: f64, what: &str, out: &mut Vec<String>| {
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                out.push(format!("{at}: {what} {n} outside {}..{} ({shape})", fmt(min), fmt(max)));
            }
        };
        match s["type"].as_str().unwrap_or_default() {
            "structure" => self.structure(svc, shape, v, at, false, out),
            "list" => match v.as_array() {
                None => out.push(format!("{at}: expected a list ({shape})")),
                Some(items) => {
                    range(items.len() as f64, "length", out);
                    let member = s["member"]["shape"].as_str().unwrap_or_default();
                    for (i, item) in items.iter().enumerate() {
                        self.value(svc, member, item, &format!("{at}[{i}]"), out);
                    }
                }
            },
            "map" => match v.as_object() {
                None => out.push(format!("{at}: expected a map ({shape})")),
                Some(entries) => {
                    range(entries.len() as f64, "size", out);
                    let (key, value) = (s["key"]["shape"].as_str(), s["value"]["shape"].as_str());
                    for (k, item) in entries {
                        self.value(svc, key.unwrap_or_default(), &Value::String(k.clone()), &format!("{at} key"), out);
                        self.value(svc, value.unwrap_or_default(), item, &format!("{at}.{k}"), out);
                    }
                }
            },
            "string" => match v.as_str() {
                None => out.push(format!("{at}: expected a string ({shape})")),
                Some(text) => {
                    range(text.chars().count() as f64, "length", out);
                    if let Some(allowed) = s["enum"].as_array()
                        && !allowed.iter().any(|a| a.as_str() == Some(text))
                    {
                        out.push(format!("{at}: `{text}` is not one of the enum {shape}"));
                    }
                    if let Some(pattern) = s["pattern"].as_str()
                        && let Some(false) = self.matches(pattern, text)
                    {
                        out.push(format!("{at}: `{text}` does not match the pattern {pattern} ({shape})"));
                    }
                }
            },
            "integer" | "long" => match v.as_i64() {
                None => out.push(format!("{at}: expected an integer ({shape})")),
                Some(n) => range(n as f64, "value", out),
            },
            "double" | "float" => match v.as_f64() {
                None => out.push(format!("{at}: expected a number ({shape})")),
                Some(n) => range(n, "value", out),
            },
            "boolean" if !v.is_boolean() => out.push(format!("{at}: expected a boolean ({shape})")),
            "blob" if !v.is_string() => out.push(format!("{at}: expected base64 text ({shape})")),
            "timestamp" if !(v.is_number() || v.is_string()) => {
                out.push(format!("{at}: expected a timestamp ({shape})"))
            }
            _ => {}
        }
    }

    /// Whether `text` matches the model's pattern; `None` when the pattern uses what the
    /// engine cannot compile (Unicode classes such as `\p{L}`).
    fn matches(&self, pattern: &str, text: &str) -> Option<bool> {
        let mut cache = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
        let re = cache.entry(pattern.to_string()).or_insert_with(|| regex_lite::Regex::new(pattern).ok());
        re.as_ref().map(|re| re.is_match(text))
    }
}

fn fmt(bound: Option<f64>) -> String {
    bound.map(|b| b.to_string()).unwrap_or_default()
}

/// The operation whose URI template matches `path` (most literal segments first).
fn rest_operation<'s>(svc: &'s Service, method: &str, path: &str) -> Option<(String, &'s Value)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<(usize, String, &Value)> = None;
    for (name, op) in &svc.operations {
        if op["http"]["method"].as_str() != Some(method) {
            continue;
        }
        let template = op["http"]["requestUri"].as_str().unwrap_or_default();
        let template = template.split('?').next().unwrap_or_default().trim_matches('/');
        let parts: Vec<&str> = template.split('/').collect();
        let greedy = parts.last().is_some_and(|p| p.ends_with("+}"));
        let fits = if greedy { segments.len() >= parts.len() } else { segments.len() == parts.len() };
        if !fits {
            continue;
        }
        let mut literal = 0;
        let ok = parts.iter().zip(&segments).all(|(p, s)| {
            let label = p.starts_with('{') && p.ends_with('}');
            literal += usize::from(!label);
            if label { !s.is_empty() } else { p == s }
        });
        if ok && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
            best = Some((literal, name.clone(), op));
        }
    }
    best.map(|(_, name, op)| (name, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Models {
        let model = serde_json::json!({
            "metadata": { "signingName": "demo", "protocol": "json" },
            "operations": {
                "CreateThing": { "http": { "method": "POST", "requestUri": "/" }, "input": { "shape": "CreateThingRequest" } },
                "GetThing": { "http": { "method": "GET", "requestUri": "/thing/{id}" }, "input": { "shape": "GetThingRequest" } },
                "ListThings": { "http": { "method": "GET", "requestUri": "/thing" }, "input": { "shape": "GetThingRequest" } }
            },
            "shapes": {
                "CreateThingRequest": {
                    "type": "structure",
                    "required": ["name"],
                    "members": {
                        "name": { "shape": "Name" },
                        "size": { "shape": "Size" },
                        "mode": { "shape": "Mode" },
                        "tags": { "shape": "Tags" }
                    }
                },
                "GetThingRequest": { "type": "structure", "required": ["id"], "members": { "id": { "shape": "Name", "location": "uri" } } },
                "Name": { "type": "string", "min": 1, "max": 8, "pattern": "^[a-z]+$" },
                "Size": { "type": "integer", "min": 1, "max": 10 },
                "Mode": { "type": "string", "enum": ["FAST", "SLOW"] },
                "Tags": { "type": "list", "member": { "shape": "Name" }, "max": 2 }
            }
        });
        let dir = std::env::temp_dir().join(format!("proxy-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("demo.json"), model.to_string()).unwrap();
        Models::load(&dir).unwrap()
    }

    #[test]
    fn every_rule_is_enforced_and_a_valid_request_passes() {
        let m = models();
        let ok = m.check("demo", "CreateThing", "POST", "/", r#"{"name":"abc","size":3,"mode":"FAST","tags":["a"]}"#);
        assert_eq!(ok, Some(vec![]));
        let bad = m
            .check("demo", "CreateThing", "POST", "/", r#"{"size":30,"mode":"MEDIUM","tags":["a","b","C"],"extra":1}"#)
            .unwrap();
        let text = bad.join("\n");
        for rule in [
            "name: required",
            "30 outside 1..10",
            "`MEDIUM` is not one of the enum",
            "length 3 outside",
            "does not match the pattern",
            "extra: not a member",
        ] {
            assert!(text.contains(rule), "{rule} in:\n{text}");
        }
        let long = m.check("demo", "CreateThing", "POST", "/", r#"{"name":"abcdefghij"}"#).unwrap();
        assert!(long[0].contains("length 10 outside 1..8"), "{long:?}");
    }

    #[test]
    fn rest_paths_find_their_operation_and_uri_members_are_not_body_members() {
        let m = models();
        assert_eq!(m.check("demo", "GET /thing/abc", "GET", "/thing/abc?x=1", ""), Some(vec![]));
        assert_eq!(m.check("demo", "GET /thing", "GET", "/thing", ""), Some(vec![]));
        assert_eq!(m.check("demo", "Query", "POST", "/", "Action=Query&x=1"), None, "query protocol: not checked");
        assert_eq!(m.check("other", "CreateThing", "POST", "/", "{}"), None);
    }
}
