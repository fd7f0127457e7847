//! The ADOT collector configuration, kept in an SSM parameter and injected as
//! `AOT_CONFIG_CONTENT`: find every task of the five Temporal services through the ECS API
//! (the collector's `ecs_observer` extension), scrape each task's metrics port at its own
//! address, labelled with its service and task, and remote-write to the AMP workspace
//! with SigV4.
//!
//! Sources, ADOT v0.45.0 (collector-contrib v0.131.0, `extension/observer/ecsobserver`):
//! - the observer writes Prometheus file-SD targets for the containers whose task
//!   definition ARN and name match and that map a listed `containerPort`; an awsvpc task's
//!   target is its ENI's address; the labels are `__meta_ecs_container_name` and
//!   `__meta_ecs_source` (the task ARN), among others;
//! - `task_definitions` matching, not `services`: the service matcher indexes one
//!   deployment per service, so during a rolling deployment the other one's tasks would
//!   go unscraped;
//! - it writes the file itself (`os.WriteFile`), into a directory that must exist: the
//!   image is `FROM scratch` running as `aoc`, and `/etc` is not writable for it
//!   (aws-otel-collector#2620), so the file lives on a tmpfs of the task
//!   ([`TARGETS_DIR`]).
//!
//! No `resource_to_telemetry_conversion`: it would copy the scrape job into every series as
//! `service_name` and collide with Temporal's own `service_name` label (AMP would get
//! `temporal;frontend`).

use crate::service_kinds::{METRICS_PORT, SERVICES};

/// The collector's tmpfs, where the observer writes the targets it found.
pub const TARGETS_DIR: &str = "/ecs-sd";

/// How often the observer asks ECS for the tasks, and the receiver rereads its file.
const REFRESH: &str = "30s";

/// `prometheus_endpoint` is the workspace's, ending in `/`; `project` names the task
/// definition families (`<project>-temporal-history`…), `cluster` the ECS cluster.
pub fn collector_config(region: &str, prometheus_endpoint: &str, project: &str, cluster: &str) -> String {
    // Project names are lowercase letters, digits and hyphens (validated): plain in a regex.
    // The ARN pattern is held by the `/` before the family and the `:` after it; no `$`
    // anchors, since the collector expands `$` in its config.
    let containers: Vec<&str> = SERVICES.iter().filter(|s| s.is_temporal()).map(|s| s.container).collect();
    let alternatives = containers.join("|");
    let endpoint = format!("{}api/v1/remote_write", prometheus_endpoint.trim_end_matches('/').to_string() + "/");
    format!(
        "\
extensions:
  sigv4auth:
    region: {region}
    service: aps
  ecs_observer:
    cluster_name: {cluster}
    cluster_region: {region}
    refresh_interval: {REFRESH}
    result_file: {TARGETS_DIR}/targets.yaml
    task_definitions:
      - arn_pattern: ':task-definition/{project}-({alternatives}):[0-9]'
        container_name_pattern: '^({alternatives})'
        metrics_ports: [{METRICS_PORT}]
receivers:
  prometheus:
    config:
      global:
        scrape_interval: 15s
        scrape_timeout: 10s
      scrape_configs:
        - job_name: temporal
          file_sd_configs:
            - files: [{TARGETS_DIR}/targets.yaml]
              refresh_interval: {REFRESH}
          relabel_configs:
            - source_labels: [__meta_ecs_container_name]
              regex: 'temporal-(.+)'
              target_label: service
            - source_labels: [__meta_ecs_source]
              regex: '.*/([^/]+)'
              target_label: task
exporters:
  prometheusremotewrite:
    endpoint: {endpoint}
    auth:
      authenticator: sigv4auth
service:
  extensions: [sigv4auth, ecs_observer]
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [prometheusremotewrite]
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> String {
        collector_config(
            "us-east-1",
            "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/",
            "demo",
            "demo-cluster",
        )
    }

    #[test]
    fn snapshot_and_shape() {
        let config = config();
        insta::assert_snapshot!("adot-collector", config);
        assert!(config.contains(
            "endpoint: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/api/v1/remote_write"
        ));
        assert!(config.contains("authenticator: sigv4auth"));
        assert!(!config.contains("resource_to_telemetry_conversion"), "it would clash with Temporal's service_name");
        // The collector expands `${…}` in its config: no `$` at all, so nothing is expanded
        // (the relabels use the default replacement, `$1`, unwritten).
        assert!(!config.contains('$'), "{config}");
        // Under 4 KB: fits a Standard SSM parameter.
        assert!(config.len() < 4096);
    }

    /// The observer's patterns, as Go's regexp (RE2, like `regex-lite` here) matches them
    /// (`MatchString`: unanchored unless the pattern says so), pick exactly the five Temporal services' task definitions and containers, any
    /// revision, and the relabels name each target's service as before and its task.
    #[test]
    fn the_observer_finds_every_temporal_task_and_nothing_else() {
        let yaml: serde_json::Value = serde_saphyr::from_str(&config()).expect("the config parses");
        let filter = &yaml["extensions"]["ecs_observer"]["task_definitions"][0];
        let arn = regex_lite::Regex::new(filter["arn_pattern"].as_str().unwrap()).unwrap();
        let container = regex_lite::Regex::new(filter["container_name_pattern"].as_str().unwrap()).unwrap();
        let family_arn = |family: &str| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:12");
        for s in ["history", "matching", "frontend", "internal-frontend", "worker"] {
            assert!(arn.is_match(&family_arn(&format!("demo-temporal-{s}"))), "{s}");
            assert!(container.is_match(&format!("temporal-{s}")), "{s}");
        }
        for other in ["demo-temporal-ui", "demo-grafana", "demo-temporal-admin-tools", "other-temporal-history"] {
            assert!(!arn.is_match(&family_arn(other)), "{other}");
        }
        assert!(!container.is_match("temporal-ui") && !container.is_match("adot-collector"));
        assert_eq!(filter["metrics_ports"], serde_json::json!([9090]));
        let job = &yaml["receivers"]["prometheus"]["config"]["scrape_configs"][0];
        let result_file = yaml["extensions"]["ecs_observer"]["result_file"].as_str().unwrap();
        assert_eq!(job["file_sd_configs"][0]["files"][0], result_file, "the receiver reads what the observer writes");
        assert!(result_file.starts_with(TARGETS_DIR));
        let relabel = |i: usize, input: &str| {
            let rule = &job["relabel_configs"][i];
            // Prometheus anchors relabel regexes at both ends.
            let re = regex_lite::Regex::new(&format!("^(?:{})$", rule["regex"].as_str().unwrap())).unwrap();
            (rule["target_label"].as_str().unwrap().to_string(), re.captures(input).map(|c| c[1].to_string()))
        };
        assert_eq!(relabel(0, "temporal-internal-frontend"), ("service".into(), Some("internal-frontend".into())));
        let task = "arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert_eq!(relabel(1, task), ("task".into(), Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0".into())));
        assert_eq!(yaml["service"]["extensions"], serde_json::json!(["sigv4auth", "ecs_observer"]));
    }
}
