//! What Grafana shows on first open, rendered as data and written into its provisioning
//! folders by the container's start command (as the Temporal config is): the Amazon
//! Managed Prometheus workspace as the default data source, CloudWatch for the ECS
//! services, and three dashboards of our own. Nothing is kept between tasks: a replaced
//! task provisions the same again.
//!
//! Sources:
//! - Grafana 12.2 "Provision Grafana": data sources and dashboard providers are read from
//!   `<provisioning>/datasources` and `<provisioning>/dashboards` (`*.yaml`, parsed as
//!   YAML, so JSON text is read as is); values in those files expand `$VAR`, so none of
//!   ours holds a `$`. Dashboard JSON files are not expanded.
//! - Grafana 12.2 "Connect to Amazon Managed Service for Prometheus": the core
//!   `prometheus` type with `sigV4Auth`, `sigV4AuthType: default` (the AWS SDK's chain,
//!   here the task role), the workspace URL without `/api/v1/query`; needs
//!   `GF_AUTH_SIGV4_AUTH_ENABLED=true`. Deprecated there, and migrated on start by Grafana
//!   13 to the `grafana-amazonprometheus-datasource` plugin (docs/observability.md).
//! - Grafana's image runs `/run.sh` as its entry point, which passes
//!   `GF_PATHS_PROVISIONING` (default `/etc/grafana/provisioning`) to the server.
//! - Metric names: Temporal v1.29.7 `common/metrics/metric_defs.go` and the DSQL fork's
//!   `common/persistence/sql/sqlplugin/dsql/metrics.go`, listed in `temporal_metrics.txt`
//!   (scripts/temporal-metrics); the test checks every query against it. The server's
//!   Prometheus reporter is tally's: timers are histograms in seconds (`_bucket`, `_sum`,
//!   `_count`; `common/metrics/config.go` converts the millisecond boundaries), counters
//!   keep their names. Whether a counter reaches AMP with a `_total` suffix depends on the
//!   collector's Prometheus translation (its receiver's and its remote-write exporter's
//!   suffix handling have changed between releases), so counters are selected as
//!   `{__name__=~"<name>(_total)?"}`, right either way.
//! - ECS: Container Insights' service metrics (AWS, "Amazon ECS Container Insights
//!   metrics": `ECS/ContainerInsights`, `CpuUtilized`, `CpuReserved`, `MemoryUtilized`,
//!   `MemoryReserved`, `RunningTaskCount`, `DesiredTaskCount` by `ClusterName` and
//!   `ServiceName`); the cluster has Container Insights on (`platform::cluster`).

use serde_json::{Value, json};

/// Grafana's provisioning folder, a tmpfs of the task (`task_definition`).
pub const PROVISIONING_DIR: &str = "/etc/grafana/provisioning";
/// Where the dashboard provider reads our dashboards, inside [`PROVISIONING_DIR`].
const DASHBOARDS_DIR: &str = "/etc/grafana/provisioning/temporalctl";
/// The image's own entry point (Grafana's Dockerfile), started once the files are written.
const GRAFANA_ENTRY_POINT: &str = "/run.sh";

const PROMETHEUS_UID: &str = "amp";
const CLOUDWATCH_UID: &str = "cloudwatch";
/// Our scrape job (`documents::adot`): every Temporal series carries it.
const JOB: &str = "job=\"temporal\"";

/// A file the start script writes: the variable holding it and its path.
pub struct File {
    pub variable: &'static str,
    pub path: String,
    pub content: String,
}

/// Every file Grafana is provisioned with. `prometheus_endpoint` is the workspace's
/// (ending in `/`), `cluster` the ECS cluster's name.
pub fn files(region: &str, prometheus_endpoint: &str, cluster: &str) -> Vec<File> {
    let mut out = vec![
        File {
            variable: "TEMPORALCTL_GRAFANA_DATASOURCES",
            path: format!("{PROVISIONING_DIR}/datasources/temporalctl.yaml"),
            content: datasources(region, prometheus_endpoint).to_string(),
        },
        File {
            variable: "TEMPORALCTL_GRAFANA_DASHBOARDS",
            path: format!("{PROVISIONING_DIR}/dashboards/temporalctl.yaml"),
            content: dashboard_provider().to_string(),
        },
    ];
    for (variable, name, dashboard) in dashboards(cluster) {
        out.push(File { variable, path: format!("{DASHBOARDS_DIR}/{name}.json"), content: dashboard.to_string() });
    }
    out
}

/// The container's command (run by `/bin/sh -c`): write each file from its variable,
/// drop the variables, start Grafana.
pub fn start_script(files: &[File]) -> String {
    let mut script =
        format!("set -eu\nmkdir -p {PROVISIONING_DIR}/datasources {PROVISIONING_DIR}/dashboards {DASHBOARDS_DIR}\n");
    for f in files {
        script.push_str(&format!("printf '%s' \"${}\" > {}\n", f.variable, f.path));
    }
    let variables: Vec<&str> = files.iter().map(|f| f.variable).collect();
    script.push_str(&format!("unset {}\nexec {GRAFANA_ENTRY_POINT}", variables.join(" ")));
    script
}

fn datasources(region: &str, prometheus_endpoint: &str) -> Value {
    json!({
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Amazon Managed Prometheus",
                "uid": PROMETHEUS_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": prometheus_endpoint,
                "isDefault": true,
                "editable": false,
                "jsonData": { "httpMethod": "POST", "sigV4Auth": true, "sigV4AuthType": "default", "sigV4Region": region }
            },
            {
                "name": "CloudWatch",
                "uid": CLOUDWATCH_UID,
                "type": "cloudwatch",
                "access": "proxy",
                "editable": false,
                "jsonData": { "authType": "default", "defaultRegion": region }
            }
        ]
    })
}

fn dashboard_provider() -> Value {
    json!({
        "apiVersion": 1,
        "providers": [{
            "name": "temporalctl",
            "folder": "Temporal",
            "type": "file",
            "disableDeletion": true,
            "allowUiUpdates": false,
            "options": { "path": DASHBOARDS_DIR }
        }]
    })
}

/// A query of a panel.
enum Query {
    Prometheus {
        expr: String,
        legend: &'static str,
    },
    /// A Container Insights metric of every service of the cluster.
    CloudWatch {
        metric: &'static str,
        statistic: &'static str,
    },
}

/// A time series panel; its queries are of one data source.
struct Panel {
    title: &'static str,
    unit: &'static str,
    queries: Vec<Query>,
}

struct Section {
    title: &'static str,
    panels: Vec<Panel>,
}

fn panel(title: &'static str, unit: &'static str, queries: Vec<Query>) -> Panel {
    Panel { title, unit, queries }
}

fn prom(expr: String, legend: &'static str) -> Query {
    Query::Prometheus { expr, legend }
}

/// A counter's series, whichever suffix it reached AMP with.
fn counter(name: &str, matchers: &str) -> String {
    format!("{{__name__=~\"{name}(_total)?\",{JOB}{}}}", with(matchers))
}

fn with(matchers: &str) -> String {
    if matchers.is_empty() { String::new() } else { format!(",{matchers}") }
}

/// Per-second rate of a counter, summed by `by`.
fn rate(name: &str, matchers: &str, by: &str) -> String {
    format!("sum by ({by}) (rate({}[$__rate_interval]))", counter(name, matchers))
}

/// The 95th percentile of a timer (a histogram in seconds), by `by`.
fn p95(timer: &str, matchers: &str, by: &str) -> String {
    format!(
        "histogram_quantile(0.95, sum by ({by}, le) (rate({timer}_bucket{{{JOB}{}}}[$__rate_interval])))",
        with(matchers)
    )
}

/// A gauge, summed by `by`.
fn gauge(name: &str, matchers: &str, by: &str) -> String {
    format!("sum by ({by}) ({name}{{{JOB}{}}})", with(matchers))
}

/// (variable, file name, dashboard) of each dashboard.
fn dashboards(cluster: &str) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "TEMPORALCTL_DASHBOARD_SERVER",
            "temporal-server",
            dashboard("temporal-server", "Temporal server", server(), cluster),
        ),
        (
            "TEMPORALCTL_DASHBOARD_DSQL",
            "temporal-dsql",
            dashboard("temporal-dsql", "Temporal on Aurora DSQL", dsql(), cluster),
        ),
        ("TEMPORALCTL_DASHBOARD_ECS", "temporal-ecs", dashboard("temporal-ecs", "ECS services", ecs(), cluster)),
    ]
}

fn server() -> Vec<Section> {
    let polls = "operation=~\"Poll.*TaskQueue\"";
    let not_polls = "operation!~\"Poll.*TaskQueue\"";
    vec![
        Section {
            title: "Requests",
            panels: vec![
                panel(
                    "Requests by service and operation",
                    "reqps",
                    vec![prom(rate("service_requests", "", "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Errors by service and operation",
                    "reqps",
                    vec![prom(rate("service_errors", "", "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Latency p95 (long polls excluded)",
                    "s",
                    vec![prom(p95("service_latency", not_polls, "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Rejected and timed-out requests",
                    "reqps",
                    vec![
                        prom(
                            rate("service_errors_resource_exhausted", "", "service"),
                            "{{service}} resource exhausted",
                        ),
                        prom(rate("service_errors_context_timeout", "", "service"), "{{service}} context timeout"),
                    ],
                ),
            ],
        },
        Section {
            title: "Persistence",
            panels: vec![
                panel(
                    "Persistence requests by operation",
                    "reqps",
                    vec![prom(rate("persistence_requests", "", "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Persistence errors by operation",
                    "reqps",
                    vec![prom(rate("persistence_errors", "", "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Persistence latency p95",
                    "s",
                    vec![prom(p95("persistence_latency", "", "service, operation"), "{{service}} {{operation}}")],
                ),
                panel(
                    "Persistence throttled",
                    "reqps",
                    vec![prom(
                        rate("persistence_errors_resource_exhausted", "", "service, operation"),
                        "{{service}} {{operation}}",
                    )],
                ),
            ],
        },
        Section {
            title: "History: shards and tasks",
            panels: vec![
                panel(
                    "Shards owned per history task",
                    "short",
                    vec![prom(gauge("numshards_gauge", "", "task"), "{{task}}")],
                ),
                panel(
                    "Shard movements",
                    "ops",
                    vec![
                        prom(rate("sharditem_created_count", "", "task"), "{{task}} acquired"),
                        prom(rate("sharditem_removed_count", "", "task"), "{{task}} released"),
                        prom(rate("shard_closed_count", "", "task"), "{{task}} closed"),
                    ],
                ),
                panel(
                    "Tasks processed by type",
                    "ops",
                    vec![prom(rate("task_requests", "service=\"history\"", "task_type"), "{{task_type}}")],
                ),
                panel(
                    "Task processing latency p95",
                    "s",
                    vec![prom(p95("task_latency_processing", "service=\"history\"", "task_type"), "{{task_type}}")],
                ),
            ],
        },
        Section {
            title: "Matching",
            panels: vec![
                panel(
                    "Polls: matched, matched at once, timed out",
                    "ops",
                    vec![
                        prom(rate("poll_success", "", "task_type"), "{{task_type}} matched"),
                        prom(rate("poll_success_sync", "", "task_type"), "{{task_type}} sync match"),
                        prom(rate("poll_timeouts", "", "task_type"), "{{task_type}} timed out"),
                    ],
                ),
                panel(
                    "Backlog by task queue (top 10)",
                    "short",
                    vec![prom(
                        format!(
                            "topk(10, {})",
                            gauge("approximate_backlog_count", "", "namespace, taskqueue, task_type")
                        ),
                        "{{namespace}} {{taskqueue}} {{task_type}}",
                    )],
                ),
                panel(
                    "Oldest backlog task by task queue (top 10)",
                    "s",
                    vec![prom(
                        format!("topk(10, max by (namespace, taskqueue) (approximate_backlog_age_seconds{{{JOB}}}))"),
                        "{{namespace}} {{taskqueue}}",
                    )],
                ),
            ],
        },
        Section {
            title: "Frontend long polls",
            panels: vec![
                panel(
                    "Long polls started",
                    "reqps",
                    vec![prom(
                        rate("service_requests", &format!("service=\"frontend\",{polls}"), "operation"),
                        "{{operation}}",
                    )],
                ),
                panel(
                    "Long poll duration p95 (about a minute when no task comes)",
                    "s",
                    vec![prom(
                        p95("service_latency", &format!("service=\"frontend\",{polls}"), "operation"),
                        "{{operation}}",
                    )],
                ),
            ],
        },
        Section {
            title: "Service health",
            panels: vec![
                // `up` is the collector's own series for each scraped task.
                panel("Tasks scraped by service", "short", vec![prom(gauge("up", "", "service"), "{{service}}")]),
                panel(
                    "Restarts (last hour)",
                    "short",
                    vec![prom(format!("sum by (service) (increase({}[1h]))", counter("restarts", "")), "{{service}}")],
                ),
                panel(
                    "Goroutines per task",
                    "short",
                    vec![prom(gauge("num_goroutines", "", "service, task"), "{{service}} {{task}}")],
                ),
                panel(
                    "Heap in use per task",
                    "bytes",
                    vec![prom(gauge("memory_heapinuse", "", "service, task"), "{{service}} {{task}}")],
                ),
                panel(
                    "Membership changes",
                    "ops",
                    vec![prom(rate("membership_changed_count", "", "service"), "{{service}}")],
                ),
            ],
        },
    ]
}

fn dsql() -> Vec<Section> {
    vec![
        Section {
            title: "Connections",
            panels: vec![
                panel(
                    "Pool: open, in use, limit",
                    "short",
                    vec![
                        prom(gauge("dsql_pool_open", "", "service"), "{{service}} open"),
                        prom(gauge("dsql_pool_in_use", "", "service"), "{{service}} in use"),
                        prom(gauge("dsql_pool_max_open", "", "service"), "{{service}} limit"),
                    ],
                ),
                panel(
                    "Waits for a connection",
                    "ops",
                    vec![prom(rate("dsql_pool_wait_total", "", "service"), "{{service}}")],
                ),
                panel(
                    "Wait for a connection p95",
                    "s",
                    vec![prom(p95("dsql_pool_wait_duration", "", "service"), "{{service}}")],
                ),
                panel(
                    "IAM token refreshes and failures",
                    "ops",
                    vec![
                        prom(rate("dsql_token_refreshes", "", "service"), "{{service}} refreshed"),
                        prom(rate("dsql_token_refresh_failures", "", "service"), "{{service}} failed"),
                    ],
                ),
            ],
        },
        Section {
            title: "Transactions",
            panels: vec![
                panel(
                    "Transaction latency p95 by operation",
                    "s",
                    vec![prom(p95("dsql_tx_latency", "", "operation"), "{{operation}}")],
                ),
                panel(
                    "Optimistic concurrency conflicts (SQLSTATE 40001) by operation",
                    "ops",
                    vec![prom(rate("dsql_tx_conflict_total", "", "operation"), "{{operation}}")],
                ),
                panel(
                    "Retries, and retries given up",
                    "ops",
                    vec![
                        prom(rate("dsql_tx_retry_total", "", "operation"), "{{operation}} retried"),
                        prom(rate("dsql_tx_exhausted_total", "", "operation"), "{{operation}} gave up"),
                    ],
                ),
                panel(
                    "Errors by class",
                    "ops",
                    vec![prom(rate("dsql_tx_error_class_total", "", "error_class"), "{{error_class}}")],
                ),
            ],
        },
    ]
}

fn ecs() -> Vec<Section> {
    let cw = |metric, statistic| Query::CloudWatch { metric, statistic };
    vec![Section {
        title: "Services",
        panels: vec![
            panel(
                "CPU used and reserved (units)",
                "short",
                vec![cw("CpuUtilized", "Average"), cw("CpuReserved", "Average")],
            ),
            panel(
                "Memory used and reserved (MiB)",
                "decmbytes",
                vec![cw("MemoryUtilized", "Average"), cw("MemoryReserved", "Average")],
            ),
            panel(
                "Running and desired tasks",
                "short",
                vec![cw("RunningTaskCount", "Average"), cw("DesiredTaskCount", "Average")],
            ),
        ],
    }]
}

/// Two panels a row, each section under its row header; CloudWatch queries read `cluster`.
fn dashboard(uid: &str, title: &str, sections: Vec<Section>, cluster: &str) -> Value {
    let mut panels = Vec::new();
    let (mut id, mut y) = (1, 0);
    for section in sections {
        panels.push(json!({ "id": id, "type": "row", "title": section.title, "collapsed": false, "panels": [], "gridPos": { "h": 1, "w": 24, "x": 0, "y": y } }));
        id += 1;
        y += 1;
        for (i, p) in section.panels.iter().enumerate() {
            let x = if i % 2 == 0 { 0 } else { 12 };
            panels.push(render_panel(id, p, x, y, cluster));
            id += 1;
            if i % 2 == 1 || i + 1 == section.panels.len() {
                y += 8;
            }
        }
    }
    json!({
        "uid": uid,
        "title": title,
        "tags": ["temporal", "temporalctl"],
        "editable": false,
        "schemaVersion": 39,
        "time": { "from": "now-3h", "to": "now" },
        "refresh": "1m",
        "panels": panels
    })
}

impl Query {
    fn datasource(&self) -> Value {
        match self {
            Query::Prometheus { .. } => json!({ "type": "prometheus", "uid": PROMETHEUS_UID }),
            Query::CloudWatch { .. } => json!({ "type": "cloudwatch", "uid": CLOUDWATCH_UID }),
        }
    }

    /// The panel target, `ref_id` its letter; CloudWatch queries read `cluster`'s services.
    fn target(&self, ref_id: String, cluster: &str) -> Value {
        let datasource = self.datasource();
        match self {
            Query::Prometheus { expr, legend } => {
                json!({ "refId": ref_id, "datasource": datasource, "expr": expr, "legendFormat": legend })
            }
            Query::CloudWatch { metric, statistic } => json!({
                "refId": ref_id,
                "datasource": datasource,
                "queryMode": "Metrics",
                "region": "default",
                "namespace": "ECS/ContainerInsights",
                "metricName": metric,
                "dimensions": { "ClusterName": cluster, "ServiceName": "*" },
                "matchExact": true,
                "statistic": statistic,
                "period": ""
            }),
        }
    }
}

fn render_panel(id: u32, p: &Panel, x: u32, y: u32, cluster: &str) -> Value {
    let targets: Vec<Value> =
        p.queries.iter().enumerate().map(|(i, q)| q.target(((b'A' + i as u8) as char).to_string(), cluster)).collect();
    json!({
        "id": id,
        "type": "timeseries",
        "title": p.title,
        "datasource": p.queries.first().map(Query::datasource),
        "gridPos": { "h": 8, "w": 12, "x": x, "y": y },
        "fieldConfig": { "defaults": { "unit": p.unit }, "overrides": [] },
        "options": { "legend": { "displayMode": "list", "placement": "bottom" }, "tooltip": { "mode": "multi" } },
        "targets": targets
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const ENDPOINT: &str = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/";

    fn rendered() -> Vec<File> {
        files("us-east-1", ENDPOINT, "demo-cluster")
    }

    fn content(name: &str) -> Value {
        let f = rendered().into_iter().find(|f| f.path.ends_with(name)).unwrap();
        serde_json::from_str(&f.content).unwrap()
    }

    /// Temporal's metrics by name, with their type (`temporal_metrics.txt`).
    fn exported() -> BTreeMap<&'static str, &'static str> {
        include_str!("temporal_metrics.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' ').map(|(kind, name)| (name, kind)))
            .collect()
    }

    fn prometheus_queries() -> Vec<(String, String)> {
        let mut out = Vec::new();
        for f in rendered().iter().filter(|f| f.path.ends_with(".json")) {
            let d: Value = serde_json::from_str(&f.content).unwrap();
            for p in d["panels"].as_array().unwrap() {
                for t in p["targets"].as_array().into_iter().flatten() {
                    if let Some(expr) = t["expr"].as_str() {
                        out.push((p["title"].as_str().unwrap().to_string(), expr.to_string()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn snapshot_and_shape() {
        for f in rendered() {
            let name = f.path.rsplit('/').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("-");
            let value: Value = serde_json::from_str(&f.content).unwrap();
            insta::assert_json_snapshot!(format!("grafana-{name}"), value);
        }
        let ds = content("datasources/temporalctl.yaml");
        let amp = &ds["datasources"][0];
        assert_eq!(
            (amp["type"].as_str(), amp["url"].as_str(), amp["isDefault"].as_bool()),
            (Some("prometheus"), Some(ENDPOINT), Some(true))
        );
        assert_eq!(amp["jsonData"]["sigV4Auth"], true);
        assert_eq!(amp["jsonData"]["sigV4AuthType"], "default", "the task role's credentials");
        assert_eq!(amp["jsonData"]["sigV4Region"], "us-east-1");
        assert_eq!(ds["datasources"][1]["jsonData"]["authType"], "default");
        let provider = content("dashboards/temporalctl.yaml");
        assert_eq!(provider["providers"][0]["options"]["path"], DASHBOARDS_DIR);
        // Every file parses as the YAML Grafana reads it with, and expands nothing.
        for f in rendered() {
            let as_yaml: Value = serde_saphyr::from_str(&f.content).unwrap();
            assert_eq!(as_yaml, serde_json::from_str::<Value>(&f.content).unwrap());
            if f.path.ends_with(".yaml") {
                assert!(!f.content.contains('$'), "{}: Grafana expands $ in provisioning files", f.path);
            }
        }
    }

    /// Every Prometheus query names metrics Temporal v1.29.7 or the DSQL fork exports, each
    /// used as its type is exported: counters by name (either suffix), timers and
    /// histograms by their `_bucket` series, gauges as they are; and every selector is
    /// held to our scrape job.
    #[test]
    fn every_query_names_metrics_the_temporal_server_exports_as_their_type() {
        let exported = exported();
        assert!(exported.len() > 500, "the list is read: {}", exported.len());
        let counter = regex_lite::Regex::new(r#"__name__=~"([a-z0-9_]+)\(_total\)\?""#).unwrap();
        let selector = regex_lite::Regex::new(r"([a-zA-Z_][a-zA-Z0-9_]*)\{").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let queries = prometheus_queries();
        assert!(queries.len() >= 35, "{}", queries.len());
        for (title, expr) in &queries {
            let selectors = expr.matches('{').count();
            assert!(selectors >= 1, "{title}: {expr}");
            assert_eq!(expr.matches(JOB).count(), selectors, "{title}: every selector is our job's: {expr}");
            for c in counter.captures_iter(expr) {
                let name = &c[1];
                assert_eq!(exported.get(name), Some(&"counter"), "{title}: {name} is not an exported counter");
                seen.insert(name.to_string());
            }
            for s in selector.captures_iter(expr) {
                let name = &s[1];
                let ok = match name.strip_suffix("_bucket") {
                    Some(base) => matches!(exported.get(base), Some(&"timer") | Some(&"histogram")),
                    // The collector's own series for each scraped target.
                    None => name == "up" || exported.get(name) == Some(&"gauge"),
                };
                assert!(ok, "{title}: {name} is not an exported metric of that type");
                seen.insert(name.trim_end_matches("_bucket").to_string());
            }
        }
        // The subjects the dashboards are for, each present.
        for name in [
            "service_requests",
            "service_errors",
            "service_latency",
            "persistence_requests",
            "persistence_errors",
            "persistence_latency",
            "numshards_gauge",
            "task_requests",
            "task_latency_processing",
            "poll_success",
            "poll_timeouts",
            "approximate_backlog_count",
            "restarts",
            "dsql_pool_open",
            "dsql_tx_latency",
            "dsql_tx_conflict_total",
        ] {
            assert!(seen.contains(name), "no panel shows {name}");
        }
    }

    #[test]
    fn the_ecs_dashboard_reads_container_insights_of_our_cluster() {
        let d = content("temporal-ecs.json");
        let targets: Vec<&Value> = d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .collect();
        let metrics: Vec<&str> = targets.iter().map(|t| t["metricName"].as_str().unwrap()).collect();
        assert_eq!(
            metrics,
            ["CpuUtilized", "CpuReserved", "MemoryUtilized", "MemoryReserved", "RunningTaskCount", "DesiredTaskCount"]
        );
        for t in targets {
            assert_eq!(t["namespace"], "ECS/ContainerInsights");
            assert_eq!(t["dimensions"]["ClusterName"], "demo-cluster");
            assert_eq!(t["datasource"]["uid"], CLOUDWATCH_UID);
        }
    }

    /// The start script, under the real /bin/sh with the folders moved into a temporary
    /// directory, writes each file byte for byte (quotes, `$`, backslashes stay data) and
    /// leaves none of the variables to Grafana.
    #[test]
    fn the_start_script_writes_every_file_as_data_then_starts_grafana() {
        let dir = std::env::temp_dir().join(format!("temporalctl-grafana-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut files = rendered();
        files[0].content.push_str("\n# \"quoted\" $HOME `date` \\n '");
        let script = start_script(&files);
        assert!(script.ends_with("exec /run.sh"), "{script}");
        let root = dir.to_str().unwrap();
        let local = script
            .replace(PROVISIONING_DIR, &format!("{root}/p"))
            .replace("exec /run.sh", &format!("env > {root}/env; echo started > {root}/started"));
        let mut sh = std::process::Command::new("/bin/sh");
        sh.arg("-c").arg(&local);
        for f in &files {
            sh.env(f.variable, &f.content);
        }
        std::fs::create_dir_all(&dir).unwrap();
        let out = sh.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for f in &files {
            let path = f.path.replace(PROVISIONING_DIR, &format!("{root}/p"));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), f.content, "{path}");
        }
        let env = std::fs::read_to_string(dir.join("env")).unwrap();
        assert!(files.iter().all(|f| !env.contains(f.variable)), "the variables are unset before Grafana starts");
        assert!(dir.join("started").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
