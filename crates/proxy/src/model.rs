//! Requests checked against AWS's own API models: the JSON models botocore ships
//! (`botocore/data/<service>/<version>/service-2.json`, unpacked by
//! `scripts/install-emulator` into `.venv/models/<service>.json`). The emulator accepts
//! requests AWS rejects; these models say what AWS accepts: required members, types,
//! enums, lengths, ranges, patterns, unknown members.
//!
//! Covered: the JSON protocols (ECS, Logs, Secrets Manager, SSM, ECR, Cloud Map, ACM PCA) and
//! REST-JSON (DSQL, OpenSearch, AMP), whose bodies are JSON; and the form-encoded
//! protocols, decoded into the same JSON by the model's own serialization rules first:
//! `ec2` (EC2: `Filter.1.Name`, names from `queryName` or the capitalized `locationName`)
//! and `query` (IAM, Auto Scaling, STS: `Tags.member.1.Key`, `Map.entry.1.key`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

/// One service's model.
struct Service {
    /// `json`, `rest-json`, `query` or `ec2`.
    protocol: String,
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
            let protocol = meta["protocol"].as_str().unwrap_or_default().to_string();
            let take = |v: &mut Value, k: &str| v.get_mut(k).map(Value::take).and_then(|v| v.as_object().cloned());
            let operations = take(&mut model, "operations").unwrap_or_default();
            let shapes = take(&mut model, "shapes").unwrap_or_default();
            services.insert(name, Service { protocol, operations, shapes });
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
        let input = op["input"]["shape"].as_str();
        let mut out = Vec::new();
        let doc: Value = match svc.protocol.as_str() {
            "query" | "ec2" => {
                let (doc, unknown) = form::document(svc, input.unwrap_or_default(), body);
                out.extend(unknown.into_iter().map(|k| format!("{name}.{k}: not a member of the input")));
                doc
            }
            _ if body.trim().is_empty() => Value::Object(Map::new()),
            _ => serde_json::from_str(body).ok()?,
        };
        if let Some(input) = input {
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

/// The form-encoded protocols, turned into the JSON document the same request would be
/// in a JSON protocol (AWS, Smithy "AWS query protocol" and "AWS EC2 query protocol").
mod form {
    use super::*;

    /// The input as JSON, and the form keys no member claims.
    pub(super) fn document(svc: &Service, input: &str, body: &str) -> (Value, Vec<String>) {
        let mut fields: BTreeMap<String, String> = body
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(k), decode_component(v))
            })
            .collect();
        fields.remove("Action");
        fields.remove("Version");
        let form = Form { svc, fields: &fields, ec2: svc.protocol == "ec2", used: Default::default() };
        let doc = form.value(input, "").unwrap_or_else(|| Value::Object(Map::new()));
        let used = form.used.into_inner();
        let unknown = fields.keys().filter(|k| !used.contains(*k)).cloned().collect();
        (doc, unknown)
    }

    struct Form<'a> {
        svc: &'a Service,
        fields: &'a BTreeMap<String, String>,
        ec2: bool,
        used: std::cell::RefCell<BTreeSet<String>>,
    }

    impl Form<'_> {
        /// Whether any field is `key` or lies under it (`key.…`); the top level always is.
        fn present(&self, key: &str) -> bool {
            key.is_empty()
                || self
                    .fields
                    .range(key.to_string()..)
                    .next()
                    .is_some_and(|(k, _)| k == key || k.strip_prefix(key).is_some_and(|rest| rest.starts_with('.')))
        }

        fn take(&self, key: &str) -> Option<&String> {
            let found = self.fields.get(key)?;
            self.used.borrow_mut().insert(key.to_string());
            Some(found)
        }

        fn value(&self, shape: &str, key: &str) -> Option<Value> {
            let s = self.svc.shapes.get(shape)?;
            if !self.present(key) {
                return None;
            }
            let under = |name: &str| if key.is_empty() { name.to_string() } else { format!("{key}.{name}") };
            match s["type"].as_str().unwrap_or_default() {
                "structure" => {
                    let mut obj = Map::new();
                    for (name, m) in s["members"].as_object().into_iter().flatten() {
                        let wire = self.member_name(name, m);
                        if let Some(v) = m["shape"].as_str().and_then(|t| self.value(t, &under(&wire))) {
                            obj.insert(name.clone(), v);
                        }
                    }
                    Some(Value::Object(obj))
                }
                "list" => {
                    // `Key=` alone: an empty list (the query protocol's way to send one).
                    if self.fields.get(key).is_some_and(String::is_empty) {
                        self.take(key);
                        return Some(Value::Array(Vec::new()));
                    }
                    let member = &s["member"];
                    let flat = self.ec2 || s["flattened"].as_bool() == Some(true);
                    let base =
                        if flat { key.to_string() } else { under(member["locationName"].as_str().unwrap_or("member")) };
                    let target = member["shape"].as_str().unwrap_or_default();
                    let items: Vec<Value> = (1..).map_while(|i| self.value(target, &format!("{base}.{i}"))).collect();
                    Some(Value::Array(items))
                }
                "map" => {
                    let flat = s["flattened"].as_bool() == Some(true);
                    let base = if flat { key.to_string() } else { under("entry") };
                    let (k, v) = (&s["key"], &s["value"]);
                    let mut obj = Map::new();
                    for i in 1.. {
                        let entry = format!("{base}.{i}");
                        let name = self.take(&format!("{entry}.{}", k["locationName"].as_str().unwrap_or("key")));
                        let Some(name) = name.cloned() else { break };
                        let value_key = format!("{entry}.{}", v["locationName"].as_str().unwrap_or("value"));
                        let value = v["shape"].as_str().and_then(|t| self.value(t, &value_key)).unwrap_or(Value::Null);
                        obj.insert(name, value);
                    }
                    Some(Value::Object(obj))
                }
                kind => {
                    let text = self.take(key)?.clone();
                    Some(match kind {
                        "integer" | "long" => text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
                        "double" | "float" => text.parse::<f64>().map(Value::from).unwrap_or(Value::String(text)),
                        "boolean" => match text.as_str() {
                            "true" => Value::Bool(true),
                            "false" => Value::Bool(false),
                            _ => Value::String(text),
                        },
                        _ => Value::String(text),
                    })
                }
            }
        }

        /// EC2: `queryName`, else `locationName` capitalized, else the member's name
        /// capitalized. Query: `locationName`, else the member's name.
        fn member_name(&self, name: &str, m: &Value) -> String {
            let location = m["locationName"].as_str();
            if !self.ec2 {
                return location.unwrap_or(name).to_string();
            }
            if let Some(q) = m["queryName"].as_str() {
                return q.to_string();
            }
            let base = location.unwrap_or(name);
            let mut chars = base.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        }
    }

    /// `%XX` escapes and `+` for a space.
    fn decode_component(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
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
        assert_eq!(m.check("other", "CreateThing", "POST", "/", "{}"), None);
    }

    fn form_models(protocol: &str) -> Models {
        let model = serde_json::json!({
            "metadata": { "signingName": protocol, "protocol": protocol },
            "operations": { "Make": { "input": { "shape": "MakeRequest" } } },
            "shapes": {
                "MakeRequest": {
                    "type": "structure",
                    "required": ["Name"],
                    "members": {
                        "Name": { "shape": "Name" },
                        "Count": { "shape": "Count" },
                        "DryRun": { "shape": "Flag", "locationName": "dryRun" },
                        "Filters": { "shape": "Filters", "locationName": "Filter" },
                        "Tags": { "shape": "Tags" }
                    }
                },
                "Filters": { "type": "list", "member": { "shape": "Filter", "locationName": "item" } },
                "Filter": { "type": "structure", "members": { "Name": { "shape": "Name" }, "Values": { "shape": "Names", "locationName": "Value" } } },
                "Names": { "type": "list", "member": { "shape": "Name", "locationName": "item" } },
                "Tags": { "type": "list", "member": { "shape": "Tag" }, "max": 1 },
                "Tag": { "type": "structure", "required": ["Key"], "members": { "Key": { "shape": "Name" }, "Value": { "shape": "Name" } } },
                "Name": { "type": "string", "min": 1, "max": 8 },
                "Count": { "type": "integer", "min": 1 },
                "Flag": { "type": "boolean" }
            }
        });
        let dir = std::env::temp_dir().join(format!("proxy-form-models-{protocol}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{protocol}.json")), model.to_string()).unwrap();
        Models::load(&dir).unwrap()
    }

    #[test]
    fn ec2_forms_are_decoded_by_their_wire_names_and_checked() {
        let m = form_models("ec2");
        let ok =
            "Action=Make&Version=1&Name=a%2Bb&Count=2&DryRun=true&Filter.1.Name=vpc-id&Filter.1.Value.1=x&Tags.1.Key=k";
        assert_eq!(m.check("ec2", "Make", "POST", "/", ok), Some(vec![]));
        let bad = m
            .check("ec2", "Make", "POST", "/", "Action=Make&Count=zero&DryRun=yes&Filter.1.Nam=x&Tags.1.Value=v")
            .unwrap();
        let text = bad.join("\n");
        for rule in [
            "Name: required",
            "Count: expected an integer",
            "DryRun: expected a boolean",
            "Filter.1.Nam: not a member",
            "Tags[0].Key: required",
        ] {
            assert!(text.contains(rule), "{rule} in:\n{text}");
        }
    }

    #[test]
    fn query_forms_use_member_lists_and_location_names() {
        let m = form_models("query");
        let ok =
            "Action=Make&Name=abc&dryRun=false&Tags.member.1.Key=k&Tags.member.1.Value=v&Filter.item.1.Value.item.1=x";
        assert_eq!(m.check("query", "Make", "POST", "/", ok), Some(vec![]));
        let bad = m
            .check(
                "query",
                "Make",
                "POST",
                "/",
                "Action=Make&Name=abc&Tags.1.Key=k&Tags.member.1.Key=k&Tags.member.2.Key=l",
            )
            .unwrap();
        let text = bad.join("\n");
        assert!(text.contains("Tags.1.Key: not a member"), "EC2's list form is not the query protocol's: {text}");
        assert!(text.contains("Tags: length 2 outside"), "{text}");
    }
}
