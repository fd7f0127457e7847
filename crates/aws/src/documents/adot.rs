//! The ADOT collector configuration, kept in an SSM parameter and injected as
//! `AOT_CONFIG_CONTENT`: scrape the five Temporal services on 9090 through their Service
//! Connect names, remote-write to the AMP workspace with SigV4.
//!
//! A Service Connect name reaches one replica at a time, so with several replicas each
//! scrape samples one of them (see docs/architecture.md).

use crate::service_kinds::{METRICS_PORT, SERVICES, ServiceKind};

/// The Service Connect name a Temporal service's metrics port is reachable at, from its
/// container name (`temporal-internal-frontend-metrics`: hyphens, a DNS name's letters).
pub fn metrics_name(kind: &ServiceKind) -> String {
    format!("{}-metrics", kind.container)
}

/// `prometheus_endpoint` is the workspace's, ending in `/`.
pub fn collector_config(region: &str, prometheus_endpoint: &str) -> String {
    let mut scrape = String::new();
    for s in SERVICES.iter().filter(|s| s.is_temporal()) {
        scrape.push_str(&format!(
            "            - targets: [\"{}:{METRICS_PORT}\"]\n              labels:\n                service: {}\n",
            metrics_name(s),
            s.temporal_role.unwrap_or(s.key)
        ));
    }
    let endpoint = format!("{}api/v1/remote_write", prometheus_endpoint.trim_end_matches('/').to_string() + "/");
    format!(
        "\
extensions:
  sigv4auth:
    region: {region}
    service: aps
receivers:
  prometheus:
    config:
      global:
        scrape_interval: 15s
        scrape_timeout: 10s
      scrape_configs:
        - job_name: temporal
          static_configs:
{scrape}exporters:
  prometheusremotewrite:
    endpoint: {endpoint}
    auth:
      authenticator: sigv4auth
    resource_to_telemetry_conversion:
      enabled: true
service:
  extensions: [sigv4auth]
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

    #[test]
    fn snapshot_and_shape() {
        let config =
            collector_config("us-east-1", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/");
        insta::assert_snapshot!("adot-collector", config);
        for s in ["history", "matching", "frontend", "internal-frontend", "worker"] {
            assert!(config.contains(&format!("temporal-{s}-metrics:9090")), "{s}");
        }
        assert!(config.contains(
            "endpoint: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/api/v1/remote_write"
        ));
        assert!(config.contains("authenticator: sigv4auth"));
        assert!(!config.contains('$'), "no collector env expansion");
        // Under 4 KB: fits a Standard SSM parameter.
        assert!(config.len() < 4096);
    }
}
