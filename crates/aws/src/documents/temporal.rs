//! The Temporal server configuration and the container start command that installs it.
//!
//! The server image's own template knows neither DSQL nor OpenSearch request signing, so
//! the deployment renders its own config (this module, pure), passes it in the environment
//! (`TEMPORAL_SERVER_CONFIG`), and the start command writes it to the tmpfs mount, learns
//! the task's IP from the ECS metadata endpoint for the membership broadcast address, and
//! starts the server with `--config-file`.

use crate::service_kinds::{SERVICES, ServiceKind};

/// Where the start command writes the config (the writable tmpfs of seed 002).
pub const CONFIG_DIR: &str = "/etc/temporal/config/dynamicconfig";

pub struct ServerConfig<'a> {
    pub dsql_endpoint: &'a str,
    pub opensearch_endpoint: &'a str,
    pub visibility_index: &'a str,
    pub region: &'a str,
    pub history_shards: u32,
    pub pool: &'a temporalctl_config::DsqlPool,
}

/// The server config YAML shared by the four Temporal services. `{{ env … }}` is
/// Temporal's own template syntax, resolved in the container (enabled by the first line).
pub fn server_config(c: &ServerConfig<'_>) -> String {
    let mut services = String::new();
    for s in SERVICES.iter().filter(|s| s.is_temporal()) {
        services.push_str(&format!(
            "  {}:\n    rpc:\n      grpcPort: {}\n      membershipPort: {}\n      bindOnIP: 0.0.0.0\n",
            s.key,
            s.port("grpc").unwrap_or_default(),
            s.port("membership").unwrap_or_default()
        ));
    }
    format!(
        "\
# enable-template
log:
  stdout: true
  level: info
persistence:
  numHistoryShards: {shards}
  defaultStore: dsql
  visibilityStore: opensearch
  datastores:
    dsql:
      sql:
        # IAM authentication: the DSQL plugin generates and refreshes auth tokens itself.
        pluginName: dsql
        databaseName: postgres
        connectAddr: {dsql}
        connectProtocol: tcp
        user: admin
        maxConns: {max_conns}
        maxIdleConns: {max_idle}
        # The plugin signs a fresh IAM token per connect; DSQL ends sessions after 1 h.
        maxConnLifetime: {lifetime}s
        connectAttributes:
          connect_timeout: \"{connect_timeout}\"
        tls:
          enabled: true
    opensearch:
      elasticsearch:
        version: v8
        url:
          scheme: https
          host: {os}
        indices:
          visibility: {index}
        aws-request-signing:
          enabled: true
          region: {region}
          credentialProvider: aws-sdk-default
global:
  membership:
    # Waves start minutes apart on a cold start; the reference deployment allows 120 s.
    maxJoinDuration: 120s
    broadcastAddress: \"{{{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}}}\"
  metrics:
    prometheus:
      timerType: histogram
      listenAddress: \"0.0.0.0:9090\"
services:
{services}clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: temporal-frontend:7233
dcRedirectionPolicy:
  policy: noop
archival:
  history:
    state: disabled
  visibility:
    state: disabled
namespaceDefaults:
  archival:
    history:
      state: disabled
    visibility:
      state: disabled
publicClient:
  hostPort: temporal-frontend:7233
dynamicConfigClient:
  filepath: {CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}
  pollInterval: 60s
",
        shards = c.history_shards,
        dsql = yaml_string(&format!("{}:5432", c.dsql_endpoint)),
        os = yaml_string(&format!("{}:443", c.opensearch_endpoint)),
        index = yaml_string(c.visibility_index),
        region = yaml_string(c.region),
        max_conns = c.pool.max_conns,
        max_idle = c.pool.max_idle_conns,
        lifetime = c.pool.max_conn_lifetime.as_secs(),
        connect_timeout = c.pool.connect_timeout.as_secs(),
    )
}

/// A value as a YAML double-quoted scalar (JSON's string syntax is one), so no text can
/// end it, start a new key or turn it into another type. The file is also a Go template
/// on the server (`# enable-template`): `{{` must not reach it, which the configuration's
/// own validation of the index name and AWS's endpoint names already ensure.
fn yaml_string(value: &str) -> String {
    debug_assert!(!value.contains("{{"), "a template action in a config value: {value}");
    serde_json::to_string(value).unwrap_or_default()
}

/// The dynamic config file the start script writes beside the server config.
pub const DYNAMIC_CONFIG_FILE: &str = "dynamic.yaml";

/// Dynamic config every DSQL deployment needs (the fork's DSQL plugin documentation,
/// repository `iw/temporal`, and the reference deployment's `docker/config/README.md`):
/// DSQL mode on (the plugin's optimistic-concurrency handling), DSQL's transaction size
/// limit, and Nexus off (not supported on DSQL). Recent images ship no dynamic config
/// file, so it is written at start like the server config.
pub fn dynamic_config() -> String {
    "\
persistence.enableDSQLMode:
  - value: true
persistence.transactionSizeLimit:
  - value: 4000000
system.enableNexus:
  - value: false
"
    .to_string()
}

/// The shell entry point of every container that runs a script of ours. ECS hands
/// `command` to the image's ENTRYPOINT, and the Temporal server images' entrypoint does not
/// run a shell command (temporal-notes, "Corrections"; the reference deployment sets it too).
pub const SHELL_ENTRY_POINT: [&str; 2] = ["/bin/sh", "-c"];

/// Where ECS's task metadata endpoint v4 is announced to every container (AWS, "Amazon
/// ECS task metadata endpoint version 4").
pub const METADATA_VARIABLE: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// The start script of a Temporal service (run by [`SHELL_ENTRY_POINT`]): learn the task's
/// IP from the metadata endpoint for the membership broadcast address, write the config,
/// start the server. The server CLI reads TEMPORAL_ENVIRONMENT, TEMPORAL_ROOT and their
/// kin as flags that clash with `--config-file`, so they are unset whatever
/// `services.*.environment` says (the reference deployment does the same). Any failure stops the container with a line saying what failed: a
/// server broadcasting an empty address would join the ring unreachable.
pub fn start_script(kind: &ServiceKind) -> String {
    let role = kind.temporal_role.unwrap_or(kind.key);
    format!(
        "set -eu\n\
         : \"${{{METADATA_VARIABLE}:?temporalctl: ECS gave this container no task metadata endpoint}}\"\n\
         metadata=$(wget -q -T 5 -O- \"${METADATA_VARIABLE}\") || {{ echo \"temporalctl: cannot read the task metadata at ${METADATA_VARIABLE}\" >&2; exit 1; }}\n\
         TEMPORAL_BROADCAST_ADDRESS=$(printf '%s' \"$metadata\" | sed -n 's/.*\"IPv4Addresses\":\\[\"\\([0-9.]*\\)\".*/\\1/p')\n\
         [ -n \"$TEMPORAL_BROADCAST_ADDRESS\" ] || {{ echo \"temporalctl: the task metadata holds no IPv4 address\" >&2; exit 1; }}\n\
         export TEMPORAL_BROADCAST_ADDRESS\n\
         printf '%s' \"$TEMPORAL_SERVER_CONFIG\" > {CONFIG_DIR}/temporal.yaml\n\
         printf '%s' \"$TEMPORAL_DYNAMIC_CONFIG\" > {CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}\n\
         unset TEMPORAL_ENVIRONMENT TEMPORAL_ROOT TEMPORAL_CONFIG_DIR TEMPORAL_AVAILABILITY_ZONE TEMPORAL_AVAILABILTY_ZONE\n\
         echo \"temporalctl: starting {role}, broadcasting $TEMPORAL_BROADCAST_ADDRESS\"\n\
         exec temporal-server --config-file {CONFIG_DIR}/temporal.yaml --allow-no-auth start --service {role}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_kinds::service;

    fn config() -> String {
        server_config(&ServerConfig {
            dsql_endpoint: "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
            opensearch_endpoint: "vpc-demo-visibility-abc.us-east-1.es.amazonaws.com",
            visibility_index: "temporal_visibility_v1_dev",
            region: "us-east-1",
            history_shards: 4,
            pool: &Default::default(),
        })
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("temporal-server-config", config());
        insta::assert_snapshot!("temporal-start-history", start_script(service("history")));
    }

    /// Values are scalars of their own: a name with quotes, a colon or a newline stays
    /// one value, and adds no key.
    #[test]
    fn a_value_cannot_end_its_scalar_or_add_keys() {
        let hostile = "x\"\n        visibility: other\n  y: \"z";
        let c = server_config(&ServerConfig {
            dsql_endpoint: "abc.dsql.us-east-1.on.aws",
            opensearch_endpoint: "search.example",
            visibility_index: hostile,
            region: "us-east-1: true",
            history_shards: 4,
            pool: &Default::default(),
        });
        // The server renders its one template action before it parses the YAML.
        let rendered = c.replace("{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}", "10.0.3.7");
        assert!(!rendered.contains("{{"), "one template action, ours");
        let yaml: serde_json::Value = serde_saphyr::from_str(&rendered).expect("the config parses");
        let os = &yaml["persistence"]["datastores"]["opensearch"]["elasticsearch"];
        assert_eq!(os["indices"]["visibility"], hostile);
        assert_eq!(os["indices"].as_object().map(|o| o.len()), Some(1));
        assert_eq!(os["aws-request-signing"]["region"], "us-east-1: true");
        assert_eq!(os["url"]["host"], "search.example:443");
    }

    #[test]
    fn binds_everywhere_broadcasts_the_task_ip_and_uses_the_configured_shards() {
        let c = config();
        assert_eq!(c.lines().next(), Some("# enable-template"));
        // The server reads the dynamic config from the file the start script writes.
        let dynamic = format!("{CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}");
        assert!(c.contains(&format!("dynamicConfigClient:\n  filepath: {dynamic}")));
        assert!(start_script(service("history")).contains(&format!("> {dynamic}\n")));
        assert_eq!(c.matches("bindOnIP: 0.0.0.0").count(), 4);
        assert!(c.contains("broadcastAddress: \"{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}\""));
        assert!(c.contains("numHistoryShards: 4"));
        assert!(c.contains("grpcPort: 7234") && c.contains("membershipPort: 6934"));
        assert!(c.contains("aws-request-signing:\n          enabled: true"));
        assert!(!c.to_lowercase().contains("password"), "DSQL uses IAM auth, never a stored password");
    }
}
