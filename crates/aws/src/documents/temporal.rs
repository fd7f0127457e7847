//! The Temporal server configuration and the container start command that installs it.
//!
//! The server image's own template knows neither DSQL nor OpenSearch request signing, so
//! the deployment renders its own config (this module, pure), passes it in the environment
//! (`TEMPORAL_SERVER_CONFIG`), and the start command writes it to the tmpfs mount, learns
//! the task's IP from the ECS metadata endpoint for the membership broadcast address, and
//! starts the server with `--config-file`.

use std::collections::BTreeMap;

use temporalctl_config::DynamicValue;

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
    /// Mutual TLS on the gRPC ports, from the files the start script writes.
    pub tls: bool,
    /// `temporal.authorization`: JWTs checked on the frontend, or none.
    pub authorization: &'a temporalctl_config::Authorization,
}

/// The permissions claim Temporal reads by default (`default_jwt_claim_mapper.go`).
pub const PERMISSIONS_CLAIM: &str = "permissions";

/// `global.authorization` (Temporal `common/config/config.go`, `Authorization`; v1.29):
/// the default authorizer (`authorizer.go`: `default`) and the default JWT claim mapper
/// (`claim_mapper.go`), keys fetched from the JWKS URL (`jwtKeyProvider.keySourceURIs`,
/// RS256 and ES256 by `kid`). A call without a token gets no claims and is refused, but
/// for the health checks (`grpc.health.v1.Health/Check`, `GetSystemInfo`). The internal
/// frontend keeps this authorizer but maps every caller to admin (`temporal/fx.go`:
/// `NewNoopClaimMapper` for `internal-frontend`): internode mTLS is its lock.
fn authorization_section(a: &temporalctl_config::Authorization) -> String {
    let Some(url) = &a.jwks_url else { return String::new() };
    let audience = a.audience.as_ref().map(|aud| format!("    audience: {}\n", yaml_string(aud))).unwrap_or_default();
    format!(
        "  authorization:
    jwtKeyProvider:
      keySourceURIs:
        - {url}
      refreshInterval: 1m
    permissionsClaimName: {claim}
{audience}    authorizer: default
    claimMapper: default
",
        url = yaml_string(url),
        claim = yaml_string(a.permissions_claim.as_deref().unwrap_or(PERMISSIONS_CLAIM)),
    )
}

/// Where the start script writes the TLS material (inside the tmpfs: never on a disk).
pub const TLS_DIR: &str = "/etc/temporal/config/dynamicconfig/tls";

/// The variables ECS fills from the certificates' secret (`platform::tls::keys`) for the
/// start script, which writes them to [`TLS_DIR`] and unsets them before the server starts.
pub const TLS_VARIABLES: [(&str, &str, &str); 5] = [
    ("TEMPORALCTL_TLS_AUTHORITY", crate::platform::tls::keys::AUTHORITY, "authority.pem"),
    ("TEMPORALCTL_TLS_INTERNODE_CERT", crate::platform::tls::keys::INTERNODE_CERT, "internode.pem"),
    ("TEMPORALCTL_TLS_INTERNODE_KEY", crate::platform::tls::keys::INTERNODE_KEY, "internode.key"),
    ("TEMPORALCTL_TLS_FRONTEND_CERT", crate::platform::tls::keys::FRONTEND_CERT, "frontend.pem"),
    ("TEMPORALCTL_TLS_FRONTEND_KEY", crate::platform::tls::keys::FRONTEND_KEY, "frontend.key"),
];

/// The TLS variables a Temporal service gets: the frontend's own pair only on the frontend.
pub fn tls_variables(kind: &ServiceKind) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    let frontend = kind.key == "frontend";
    TLS_VARIABLES.iter().filter(move |(variable, _, _)| frontend || !variable.contains("FRONTEND"))
}

/// `global.tls` (Temporal `common/config/config.go`, `RootTLS`): internode mTLS on every
/// service's gRPC port, each member presenting the internode certificate as server and as
/// client and checking its peers' against our authority under the fixed internode name
/// (members are dialled by IP); the frontend with its own certificate, requiring a client
/// certificate of our authority; and the services' own client to the frontend
/// (`frontend.client`) trusting our authority for the frontend's name. The membership
/// ports (ringpop) stay plain TCP: Temporal encrypts them only with the dynamic config
/// `system.enableRingpopTLS`, which every member must switch at once.
fn tls_section() -> String {
    let file = |name: &str| format!("{TLS_DIR}/{name}");
    let (authority, internode, frontend) = (file("authority.pem"), file("internode"), file("frontend"));
    format!(
        "  tls:
    internode:
      server:
        certFile: {internode}.pem
        keyFile: {internode}.key
        requireClientAuth: true
        clientCaFiles:
          - {authority}
      client:
        serverName: {internode_name}
        rootCaFiles:
          - {authority}
    frontend:
      server:
        certFile: {frontend}.pem
        keyFile: {frontend}.key
        requireClientAuth: true
        clientCaFiles:
          - {authority}
      client:
        serverName: {frontend_name}
        rootCaFiles:
          - {authority}
",
        internode_name = crate::platform::tls::INTERNODE_NAME,
        frontend_name = crate::platform::tls::FRONTEND_NAME,
    )
}

/// The server config YAML shared by the five Temporal services. `{{ env … }}` is
/// Temporal's own template syntax, resolved in the container (enabled by the first line).
/// No `publicClient`: with `internal-frontend` among the services Temporal finds it
/// through membership and dials it with the internode TLS settings, and refuses to start
/// with a `publicClient` beside it (`common/config/config.go`: "when using
/// internal-frontend, publicClient must be empty").
pub fn server_config(c: &ServerConfig<'_>) -> String {
    // Every member lists every service: a process routes its own calls to the frontend by
    // whether its config names `internal-frontend` (`common/resource/fx.go`).
    let mut services = String::new();
    for s in SERVICES.iter().filter(|s| s.is_temporal()) {
        services.push_str(&format!(
            "  {}:\n    rpc:\n      grpcPort: {}\n      membershipPort: {}\n      bindOnIP: 0.0.0.0\n",
            s.temporal_role.unwrap_or(s.key),
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
{tls}{authorization}services:
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
        tls = if c.tls { tls_section() } else { String::new() },
        authorization = authorization_section(c.authorization),
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

/// temporalctl's dynamic config defaults, each replaced by a key of the same name (any
/// case) in `temporal.dynamic_config`:
/// - `system.enableNexus: false`: the reference deployment turns Nexus off "for DSQL
///   compatibility" (`iw/temporal-dsql-deploy-ecs`, `docker/config/README.md`).
///
/// Not here, though the reference deployment and the fork's docs set them:
/// `persistence.enableDSQLMode` and `persistence.transactionSizeLimit` are registered
/// neither by Temporal 1.29 nor by the fork (the servers only warn of them; the real
/// `system.transactionSizeLimit` already defaults to 4 MiB), and the reference's throughput
/// settings are tuned to its benchmark load (docs/runbook.md, "Dynamic configuration").
pub const DYNAMIC_CONFIG_DEFAULTS: &[(&str, &str)] = &[("system.enableNexus", "false")];

/// The dynamic config file (`common/dynamicconfig/file_based_client.go`: each key a list
/// of `{value, constraints}`): our defaults, then the user's keys, each value and
/// constraint written as JSON (YAML's flow form), so no text can end its scalar or add
/// a key. Recent images ship no dynamic config file, so the start script writes it.
pub fn dynamic_config(user: &BTreeMap<String, Vec<DynamicValue>>) -> String {
    let mut out = String::new();
    for (key, value) in DYNAMIC_CONFIG_DEFAULTS {
        if !user.keys().any(|k| k.eq_ignore_ascii_case(key)) {
            out.push_str(&format!("{key}:\n  - value: {value}\n"));
        }
    }
    for (key, values) in user {
        out.push_str(&format!("{}:\n", yaml_string(key)));
        for v in values {
            out.push_str(&format!("  - value: {}\n", serde_json::to_string(&v.value).unwrap_or_default()));
            if !v.constraints.is_empty() {
                let constraints = serde_json::to_string(&v.constraints).unwrap_or_default();
                out.push_str(&format!("    constraints: {constraints}\n"));
            }
        }
    }
    out
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
/// `--allow-no-auth` is given only when deploy.yaml wrote `allow_no_auth: true`: it names
/// the choice in the task definition (in v1.29 it only silences the server's warning
/// about running without an authorizer, `cmd/server/main.go`).
pub fn start_script(kind: &ServiceKind, tls: bool, allow_no_auth: bool) -> String {
    let role = kind.temporal_role.unwrap_or(kind.key);
    // The key files readable by the server's user alone; the variables gone before it starts.
    let tls = if tls {
        let files: String = tls_variables(kind)
            .map(|(variable, _, file)| {
                let missing = format!("temporalctl: ECS gave this container no {variable} (the TLS secret)");
                format!("printf '%s\\n' \"${{{variable}:?{missing}}}\" > {TLS_DIR}/{file}\n")
            })
            .collect();
        let names: Vec<&str> = tls_variables(kind).map(|(variable, _, _)| *variable).collect();
        format!("(umask 077 && mkdir -p {TLS_DIR}\n{files})\nunset {}\n", names.join(" "))
    } else {
        String::new()
    };
    format!(
        "set -eu\n\
         : \"${{{METADATA_VARIABLE}:?temporalctl: ECS gave this container no task metadata endpoint}}\"\n\
         metadata=$(wget -q -T 5 -O- \"${METADATA_VARIABLE}\") || {{ echo \"temporalctl: cannot read the task metadata at ${METADATA_VARIABLE}\" >&2; exit 1; }}\n\
         TEMPORAL_BROADCAST_ADDRESS=$(printf '%s' \"$metadata\" | sed -n 's/.*\"IPv4Addresses\":\\[\"\\([0-9.]*\\)\".*/\\1/p')\n\
         [ -n \"$TEMPORAL_BROADCAST_ADDRESS\" ] || {{ echo \"temporalctl: the task metadata holds no IPv4 address\" >&2; exit 1; }}\n\
         export TEMPORAL_BROADCAST_ADDRESS\n\
         printf '%s' \"$TEMPORAL_SERVER_CONFIG\" > {CONFIG_DIR}/temporal.yaml\n\
         printf '%s' \"$TEMPORAL_DYNAMIC_CONFIG\" > {CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}\n\
         {tls}\
         unset TEMPORAL_ENVIRONMENT TEMPORAL_ROOT TEMPORAL_CONFIG_DIR TEMPORAL_AVAILABILITY_ZONE TEMPORAL_AVAILABILTY_ZONE\n\
         echo \"temporalctl: starting {role}, broadcasting $TEMPORAL_BROADCAST_ADDRESS\"\n\
         exec temporal-server --config-file {CONFIG_DIR}/temporal.yaml{no_auth} start --service {role}",
        no_auth = if allow_no_auth { " --allow-no-auth" } else { "" },
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
            tls: true,
            authorization: &JWT,
        })
    }

    static JWT: std::sync::LazyLock<temporalctl_config::Authorization> =
        std::sync::LazyLock::new(|| temporalctl_config::Authorization {
            jwks_url: Some("https://login.example.com/.well-known/jwks.json".into()),
            audience: Some("temporal".into()),
            ..Default::default()
        });
    static NO_AUTH: std::sync::LazyLock<temporalctl_config::Authorization> =
        std::sync::LazyLock::new(|| temporalctl_config::Authorization { allow_no_auth: true, ..Default::default() });

    fn parsed(config: &str) -> serde_json::Value {
        let rendered = config.replace("{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}", "10.0.3.7");
        serde_saphyr::from_str(&rendered).expect("the config parses")
    }

    /// `global.authorization` as Temporal reads it (`common/config/config.go`, v1.29: a
    /// misspelt key is ignored without a word, so each is checked): the default authorizer
    /// and claim mapper, the JWKS URL as the one key source, the claim and the audience.
    /// Without it the servers say `--allow-no-auth`, and only then.
    #[test]
    fn authorization_is_the_default_authorizer_with_the_jwks_keys_or_written_off() {
        let yaml = parsed(&config());
        let a = &yaml["global"]["authorization"];
        assert_eq!(a["authorizer"], "default");
        assert_eq!(a["claimMapper"], "default");
        assert_eq!(
            a["jwtKeyProvider"]["keySourceURIs"],
            serde_json::json!(["https://login.example.com/.well-known/jwks.json"])
        );
        assert_eq!(a["jwtKeyProvider"]["refreshInterval"], "1m");
        assert_eq!(a["permissionsClaimName"], "permissions");
        assert_eq!(a["audience"], "temporal");
        assert_eq!(a.as_object().map(|o| o.len()), Some(5), "{a}");
        let open = parsed(&server_config(&ServerConfig { authorization: &NO_AUTH, ..plain() }));
        assert!(open["global"].get("authorization").is_none());
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            assert!(!start_script(kind, true, false).contains("--allow-no-auth"), "{}", kind.key);
            assert!(start_script(kind, true, true).contains(" --allow-no-auth start --service "), "{}", kind.key);
        }
    }

    /// The internal frontend (Temporal >= 1.20) is in every member's config, on its own
    /// ports, and `publicClient` is gone: Temporal refuses both at once, and with it the
    /// worker and history reach the internal frontend through membership.
    #[test]
    fn every_member_knows_the_internal_frontend_and_no_public_client() {
        let yaml = parsed(&config());
        let internal = &yaml["services"]["internal-frontend"]["rpc"];
        assert_eq!((internal["grpcPort"].as_i64(), internal["membershipPort"].as_i64()), (Some(7236), Some(6936)));
        let roles: Vec<&String> = yaml["services"].as_object().unwrap().keys().collect();
        assert_eq!(roles, ["history", "matching", "frontend", "internal-frontend", "worker"]);
        assert!(yaml.get("publicClient").is_none());
        let script = start_script(service("internal_frontend"), true, false);
        assert!(script.ends_with("start --service internal-frontend"), "{script}");
        // It serves with the internode pair (`GetInternodeGRPCServerOptions`), not the frontend's.
        assert!(script.contains("internode.key") && !script.contains("frontend.key"));
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("temporal-server-config", config());
        insta::assert_snapshot!("temporal-start-history", start_script(service("history"), true, false));
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
            tls: false,
            authorization: &NO_AUTH,
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

    /// The file Temporal's file-based client reads: a key to a list of `{value,
    /// constraints}`, constraints under Temporal's own names; a key of the user's replaces
    /// our default of the same name in any case; values stay data.
    #[test]
    fn the_dynamic_config_is_temporals_file_with_our_defaults_under_the_users_keys() {
        use temporalctl_config::{Constraints, DynamicValue, TaskType};
        assert_eq!(dynamic_config(&BTreeMap::new()), "system.enableNexus:\n  - value: false\n");
        let hostile = "x\"\nsystem.enableNexus:\n  - value: true";
        let user = BTreeMap::from([
            (
                "matching.numTaskqueueReadPartitions".to_string(),
                vec![
                    DynamicValue { value: 8.into(), constraints: Constraints::default() },
                    DynamicValue {
                        value: 1.into(),
                        constraints: Constraints {
                            namespace: Some("payments".into()),
                            task_queue_name: Some("batch".into()),
                            task_type: Some(TaskType::Activity),
                            ..Default::default()
                        },
                    },
                ],
            ),
            (
                "System.EnableNexus".to_string(),
                vec![DynamicValue { value: true.into(), constraints: Default::default() }],
            ),
            (
                "frontend.namespaceRPS".to_string(),
                vec![DynamicValue { value: hostile.into(), constraints: Default::default() }],
            ),
        ]);
        let rendered = dynamic_config(&user);
        let yaml: serde_json::Value = serde_saphyr::from_str(&rendered).expect("the file parses");
        assert_eq!(yaml.as_object().map(|o| o.len()), Some(3), "{rendered}");
        let partitions = &yaml["matching.numTaskqueueReadPartitions"];
        assert_eq!(partitions[0], serde_json::json!({ "value": 8 }));
        assert_eq!(
            partitions[1],
            serde_json::json!({ "value": 1, "constraints": { "namespace": "payments", "taskQueueName": "batch", "taskType": "Activity" } })
        );
        assert_eq!(yaml["System.EnableNexus"][0]["value"], true, "the user's, in place of ours");
        assert!(yaml.get("system.enableNexus").is_none(), "{rendered}");
        assert_eq!(yaml["frontend.namespaceRPS"][0]["value"], hostile, "data, not keys");
    }

    /// `global.tls` as Temporal reads it (`common/config/config.go`: the keys are
    /// `clientCaFiles`, `rootCaFiles`, `requireClientAuth`; a misspelt key is ignored
    /// without a word, so the names are checked here one by one).
    #[test]
    fn tls_is_mutual_on_internode_and_frontend_with_our_authority_and_fixed_names() {
        let rendered = config().replace("{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}", "10.0.3.7");
        let yaml: serde_json::Value = serde_saphyr::from_str(&rendered).expect("the config parses");
        let tls = &yaml["global"]["tls"];
        let authority = serde_json::json!([format!("{TLS_DIR}/authority.pem")]);
        for (group, name, file) in
            [("internode", "temporal-internode", "internode"), ("frontend", "temporal-frontend", "frontend")]
        {
            let server = &tls[group]["server"];
            assert_eq!(server["certFile"], format!("{TLS_DIR}/{file}.pem"), "{group}");
            assert_eq!(server["keyFile"], format!("{TLS_DIR}/{file}.key"), "{group}");
            assert_eq!(server["requireClientAuth"], true, "{group}");
            assert_eq!(server["clientCaFiles"], authority, "{group}");
            assert_eq!(tls[group]["client"]["serverName"], name, "{group}");
            assert_eq!(tls[group]["client"]["rootCaFiles"], authority, "{group}");
            let keys: Vec<&String> = server.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 4, "{group}: {keys:?}");
        }
        // The file names the config reads are the ones the start script writes.
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            let script = start_script(kind, true, false);
            for (_, _, file) in tls_variables(kind) {
                assert!(script.contains(&format!("> {TLS_DIR}/{file}\n")), "{}: {file}", kind.key);
            }
        }
        assert!(!server_config(&ServerConfig { tls: false, ..plain() }).contains("tls:\n    internode"));
    }

    fn plain() -> ServerConfig<'static> {
        ServerConfig {
            dsql_endpoint: "abc.dsql.us-east-1.on.aws",
            opensearch_endpoint: "search.example",
            visibility_index: "temporal_visibility_v1_dev",
            region: "us-east-1",
            history_shards: 4,
            pool: &POOL,
            tls: false,
            authorization: &NO_AUTH,
        }
    }

    static POOL: std::sync::LazyLock<temporalctl_config::DsqlPool> = std::sync::LazyLock::new(Default::default);

    #[test]
    fn binds_everywhere_broadcasts_the_task_ip_and_uses_the_configured_shards() {
        let c = config();
        assert_eq!(c.lines().next(), Some("# enable-template"));
        // The server reads the dynamic config from the file the start script writes.
        let dynamic = format!("{CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}");
        assert!(c.contains(&format!("dynamicConfigClient:\n  filepath: {dynamic}")));
        assert!(start_script(service("history"), false, true).contains(&format!("> {dynamic}\n")));
        assert_eq!(c.matches("bindOnIP: 0.0.0.0").count(), 5);
        assert!(c.contains("broadcastAddress: \"{{ env \"TEMPORAL_BROADCAST_ADDRESS\" }}\""));
        assert!(c.contains("numHistoryShards: 4"));
        assert!(c.contains("grpcPort: 7234") && c.contains("membershipPort: 6934"));
        assert!(c.contains("aws-request-signing:\n          enabled: true"));
        assert!(!c.to_lowercase().contains("password"), "DSQL uses IAM auth, never a stored password");
    }
}
