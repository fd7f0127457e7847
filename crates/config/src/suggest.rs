//! "Did you mean" for unknown keys: the known keys come from the schema's own defaults,
//! so the list cannot drift from the types.

use serde_json::Value;

use crate::{Deploy, Problem};

pub fn unknown_key(path: &str) -> Problem {
    let (parent, key) = match path.rfind('.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    if path == "ingress.login.client_secret" {
        return Problem::new(
            path,
            "a secret never belongs in deploy.yaml (it is read, copied and committed): store it in Secrets Manager and name the secret in `client_secret_id`",
        );
    }
    let known = known_keys(parent);
    let mut message = format!("unknown key `{key}`");
    match closest(key, &known) {
        Some(best) => message.push_str(&format!("; did you mean `{best}`?")),
        None if !known.is_empty() => message.push_str(&format!("; expected one of: {}", known.join(", "))),
        None => message.push_str("; remove it"),
    }
    Problem::new(path, message)
}

fn known_keys(parent: &str) -> Vec<String> {
    let mut value = serde_json::to_value(example()).unwrap_or(Value::Null);
    if !parent.is_empty() {
        for segment in parent.split('.') {
            let name = segment.split('[').next().unwrap_or(segment);
            value = value.get(name).cloned().unwrap_or(Value::Null);
        }
    }
    // Sorted, whatever order serde_json keeps maps in (see `crate::json`).
    let mut keys: Vec<String> = match value {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    keys.sort();
    keys
}

/// Every section, optional ones filled in, so that their keys are known too.
fn example() -> Deploy {
    let existing =
        crate::ExistingNetwork { vpc_id: String::new(), private_subnet_ids: Vec::new(), public_subnet_ids: Vec::new() };
    Deploy {
        version: crate::SCHEMA_VERSION,
        project: String::new(),
        region: String::new(),
        tags: Default::default(),
        state: Default::default(),
        network: crate::Network { existing: Some(existing), ..Default::default() },
        ingress: Some(crate::Ingress {
            ui_host: String::new(),
            grafana_host: String::new(),
            certificate_arn: None,
            hosted_zone_id: None,
            allowed_cidrs: Vec::new(),
            scheme: Default::default(),
            login: Some(Default::default()),
        }),
        node_groups: Default::default(),
        services: Default::default(),
        temporal: Default::default(),
        frontend: Default::default(),
        dsql: Default::default(),
        opensearch: Default::default(),
        prometheus: Default::default(),
        grafana: Default::default(),
        logs: Default::default(),
        rollout: Default::default(),
        timeouts: Default::default(),
    }
}

pub(crate) fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(&key.to_lowercase(), k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_close_key_and_lists_known_ones_otherwise() {
        assert_eq!(unknown_key("network.vpc_cdir").message, "unknown key `vpc_cdir`; did you mean `vpc_cidr`?");
        assert!(unknown_key("network.zzzzzzzzzzz").message.contains("expected one of: "));
        assert_eq!(unknown_key("regoin").message, "unknown key `regoin`; did you mean `region`?");
        // Inside optional sections too.
        assert_eq!(unknown_key("network.existing.vpc_idd").message, "unknown key `vpc_idd`; did you mean `vpc_id`?");
        assert_eq!(unknown_key("ingress.ui_hots").message, "unknown key `ui_hots`; did you mean `ui_host`?");
        assert_eq!(
            unknown_key("ingress.login.client_secrt_id").message,
            "unknown key `client_secrt_id`; did you mean `client_secret_id`?"
        );
        assert!(unknown_key("ingress.login.client_secret").message.contains("never belongs in deploy.yaml"));
    }
}
