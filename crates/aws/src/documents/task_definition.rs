//! ECS task definitions, as the `RegisterTaskDefinition` document (camelCase, exactly
//! what is sent), rendered from the deployment: ARM64, awsvpc, named ports, awslogs with
//! per-service stream prefixes, init process, the tmpfs of seed 002 on the five Temporal
//! services, secrets through `secrets`, never in `environment`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::documents::{grafana, temporal};
use crate::platform::tls::keys as tls_keys;
use crate::service_kinds::ServiceKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub family: String,
    pub requires_compatibilities: Vec<String>,
    pub network_mode: String,
    pub cpu: String,
    pub memory: String,
    pub runtime_platform: RuntimePlatform,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub container_definitions: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    pub cpu_architecture: String,
    pub operating_system_family: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub essential: bool,
    /// Soft limit: leaves room in the task for the Service Connect proxy.
    pub memory_reservation: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    pub port_mappings: Vec<PortMapping>,
    pub environment: Vec<NameValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    pub log_configuration: LogConfiguration,
    pub linux_parameters: LinuxParameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub name: String,
    pub container_port: i32,
    /// The metrics port's, equal to the container port (awsvpc allows nothing else): ADOT's
    /// task discovery scrapes an awsvpc task at the `hostPort` of its definition
    /// (ecsobserver `task.go`, `MappedPort`), so it is written, not left to ECS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    pub protocol: String,
    /// None is plain TCP to Service Connect: no per-request timeout (see `app_protocol`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    pub log_driver: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    pub init_process_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tmpfs {
    pub container_path: String,
    /// MiB.
    pub size: i32,
    pub mount_options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub command: Vec<String>,
    pub interval: i32,
    pub timeout: i32,
    pub retries: i32,
    pub start_period: i32,
}

/// Everything a task definition is rendered from.
pub struct Inputs<'a> {
    pub project: &'a str,
    pub region: &'a str,
    pub cpu: u32,
    pub memory: u32,
    pub image: &'a str,
    pub execution_role_arn: &'a str,
    pub task_role_arn: &'a str,
    pub log_group: &'a str,
    /// The user's extra environment from deploy.yaml.
    pub environment: &'a BTreeMap<String, String>,
    /// Temporal services: the rendered server config.
    pub temporal_config: Option<&'a str>,
    /// Temporal services: the rendered dynamic config (`temporal::dynamic_config`).
    pub dynamic_config: &'a str,
    /// Grafana: its admin secret; ADOT: its config parameter.
    pub secret_arn: Option<&'a str>,
    /// Grafana: the AMP workspace's endpoint, its default data source (`documents::grafana`).
    pub prometheus_endpoint: Option<&'a str>,
    /// With TLS on: the certificates' secret (`platform::tls`), for the Temporal services,
    /// the UI and the one-off steps.
    pub tls_secret_arn: Option<&'a str>,
    /// `temporal.authorization`: the servers' `--allow-no-auth`, the UI's login.
    pub authorization: &'a temporalctl_config::Authorization,
    /// Temporal services: each task's share of DSQL's connection rate and burst.
    pub dsql_limits: temporalctl_config::dsql_budget::TaskLimits,
    /// Temporal services, with `dsql.rate_coordination`: the limiter's DynamoDB table.
    pub rate_table: Option<&'a str>,
    /// Grafana, with `ingress`: where people reach it (`https://<host>`), its root URL.
    pub public_url: Option<&'a str>,
}

/// The variables the one-off steps' scripts write to files for the `temporal` CLI
/// (`steps::cli_prelude`): the authority and the client pair, with the secret's key each
/// comes from and the file it is written to.
pub const STEP_TLS_VARIABLES: [(&str, &str, &str); 3] = [
    ("TEMPORALCTL_TLS_AUTHORITY", tls_keys::AUTHORITY, "authority.pem"),
    ("TEMPORALCTL_TLS_CLIENT_CERT", tls_keys::CLIENT_CERT, "client.pem"),
    ("TEMPORALCTL_TLS_CLIENT_KEY", tls_keys::CLIENT_KEY, "client.key"),
];

/// The UI's OIDC login (`temporalio/ui` `server/config/docker.yaml`, the same names in
/// 2.40-2.49): the browser signs in with the identity provider and the UI server forwards
/// the user's access token to the frontend as `Authorization: Bearer` (its
/// `oss-provider.svelte.ts`; `server.go` lets grpc-gateway pass the header). The client
/// secret is the user's own Secrets Manager secret, injected by the execution role.
fn ui_login(login: &temporalctl_config::UiLogin, env: &mut BTreeMap<String, String>, secrets: &mut Vec<Secret>) {
    env.insert("TEMPORAL_AUTH_ENABLED".into(), "true".into());
    env.insert("TEMPORAL_AUTH_TYPE".into(), "oidc".into());
    env.insert("TEMPORAL_AUTH_PROVIDER_URL".into(), login.issuer_url.clone());
    env.insert("TEMPORAL_AUTH_ISSUER_URL".into(), login.issuer_url.clone());
    env.insert("TEMPORAL_AUTH_CLIENT_ID".into(), login.client_id.clone());
    env.insert("TEMPORAL_AUTH_CALLBACK_URL".into(), login.callback_url.clone());
    env.insert("TEMPORAL_AUTH_SCOPES".into(), login.scopes.join(","));
    secrets.push(Secret { name: "TEMPORAL_AUTH_CLIENT_SECRET".into(), value_from: login.client_secret_arn.clone() });
}

/// One JSON key of a secret, as ECS injects it (`<arn>:<json-key>::`, AWS, "Pass Secrets
/// Manager secrets through Amazon ECS environment variables").
fn secret_key(name: &str, arn: &str, key: &str) -> Secret {
    Secret { name: name.into(), value_from: format!("{arn}:{key}::") }
}

/// Memory ECS Service Connect's proxy takes from each task (temporal-notes).
const PROXY_MEMORY: u32 = 64;

pub fn family(project: &str, kind: &ServiceKind) -> String {
    format!("{project}-{}", kind.container)
}

/// Service Connect's protocol for a port. With `http`, `http2` or `grpc` Envoy ends any
/// request after 15 s (ECS API, `TimeoutConfiguration`: perRequestTimeout applies only when
/// appProtocol is not TCP); Temporal's long polls last 60-70 s and its membership port
/// speaks ringpop (TChannel), not HTTP. So Temporal's gRPC and membership ports are plain
/// TCP (idle timeout 1 hour); metrics and web ports keep `http` for Envoy's HTTP stats.
fn app_protocol(kind: &ServiceKind, port_name: &str) -> Option<String> {
    let tcp = kind.is_temporal() && matches!(port_name, "grpc" | "membership");
    (!tcp).then(|| "http".to_string())
}

pub fn render(kind: &ServiceKind, i: &Inputs<'_>) -> TaskDefinition {
    let mut env: BTreeMap<String, String> = BTreeMap::from([("AWS_REGION".into(), i.region.into())]);
    let mut secrets = Vec::new();
    let mut command = Vec::new();
    let mut tmpfs = Vec::new();
    let mut health_check = None;
    let mut entry_point = Vec::new();
    if let Some(role) = kind.temporal_role {
        env.insert("TEMPORAL_SERVICES".into(), role.into());
        env.insert("SERVICES".into(), role.into());
        env.insert("BIND_ON_IP".into(), "0.0.0.0".into());
        env.insert("PROMETHEUS_ENDPOINT".into(), "0.0.0.0:9090".into());
        env.insert("TEMPORAL_SERVER_CONFIG".into(), i.temporal_config.unwrap_or_default().into());
        env.insert("TEMPORAL_DYNAMIC_CONFIG".into(), i.dynamic_config.into());
        // The DSQL fork's per-task connection limiter, at this task's share of the
        // cluster's quotas (`dsql_budget::task_limits`), and its staggered start.
        env.insert("DSQL_CONNECTION_RATE_LIMIT".into(), i.dsql_limits.rate.to_string());
        env.insert("DSQL_CONNECTION_BURST_LIMIT".into(), i.dsql_limits.burst.to_string());
        env.insert("DSQL_STAGGERED_STARTUP".into(), "true".into());
        // With coordination, every task counts its opens in one table instead
        // (`distributed_rate_limiter.go`: a limit a second per DSQL endpoint, shared); the
        // per-task limits above stay as the fork's fallback if the table cannot be reached
        // when the task starts.
        if let Some(table) = i.rate_table {
            env.insert("DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED".into(), "true".into());
            env.insert("DSQL_DISTRIBUTED_RATE_LIMITER_TABLE".into(), table.into());
            env.insert(
                "DSQL_DISTRIBUTED_RATE_LIMITER_LIMIT".into(),
                temporalctl_config::dsql_budget::coordinated_rate().to_string(),
            );
        }
        entry_point = temporal::SHELL_ENTRY_POINT.map(String::from).to_vec();
        command = vec![temporal::start_script(kind, i.tls_secret_arn.is_some(), i.authorization.allow_no_auth)];
        if let Some(arn) = i.tls_secret_arn {
            secrets.extend(temporal::tls_variables(kind).map(|(variable, key, _)| secret_key(variable, arn, key)));
        }
        tmpfs.push(Tmpfs {
            container_path: temporal::CONFIG_DIR.into(),
            size: 1,
            mount_options: vec!["noexec".into(), "nosuid".into()],
        });
    }
    match kind.key {
        "frontend" | "internal_frontend" => {
            // The images carry no grpc_health_probe: check the gRPC port answers.
            let port = kind.port("grpc").unwrap_or_default();
            health_check = Some(HealthCheck {
                command: vec!["CMD-SHELL".into(), format!("nc -z 127.0.0.1 {port} || exit 1")],
                interval: 30,
                timeout: 5,
                retries: 3,
                start_period: 60,
            });
        }
        "ui" => {
            env.insert("TEMPORAL_ADDRESS".into(), "temporal-frontend:7233".into());
            env.insert("TEMPORAL_CORS_ORIGINS".into(), "http://localhost:8080".into());
            // The UI server's TLS to the frontend (ui 2.42.1 `server/config/docker.yaml`,
            // `server/server/rpc/tls.go`): `*_DATA` are base64 of the PEM, and host
            // verification is off unless asked, which would check nothing.
            if let Some(arn) = i.tls_secret_arn {
                secrets.push(secret_key("TEMPORAL_TLS_CA_DATA", arn, tls_keys::AUTHORITY_BASE64));
                secrets.push(secret_key("TEMPORAL_TLS_CERT_DATA", arn, tls_keys::CLIENT_CERT_BASE64));
                secrets.push(secret_key("TEMPORAL_TLS_KEY_DATA", arn, tls_keys::CLIENT_KEY_BASE64));
                env.insert("TEMPORAL_TLS_SERVER_NAME".into(), crate::platform::tls::FRONTEND_NAME.into());
                env.insert("TEMPORAL_TLS_ENABLE_HOST_VERIFICATION".into(), "true".into());
            }
            if let Some(login) = &i.authorization.ui {
                ui_login(login, &mut env, &mut secrets);
            }
        }
        "grafana" => {
            env.insert("GF_AUTH_ANONYMOUS_ENABLED".into(), "false".into());
            env.insert("GF_AUTH_SIGV4_AUTH_ENABLED".into(), "true".into());
            // Where its redirects and links point: the ingress host, else `connect grafana`'s.
            env.insert("GF_SERVER_ROOT_URL".into(), i.public_url.unwrap_or("http://localhost:3000").into());
            let secret = i.secret_arn.unwrap_or_default();
            secrets.push(secret_key("GF_SECURITY_ADMIN_USER", secret, "admin_user"));
            secrets.push(secret_key("GF_SECURITY_ADMIN_PASSWORD", secret, "admin_password"));
            // The data sources and dashboards, written by the start command into a tmpfs
            // (Docker's tmpfs is world-writable, 1777, and Grafana runs as its own user).
            if let Some(endpoint) = i.prometheus_endpoint {
                let files = grafana::files(i.region, endpoint, &crate::stack::names::cluster_name(i.project));
                entry_point = temporal::SHELL_ENTRY_POINT.map(String::from).to_vec();
                command = vec![grafana::start_script(&files)];
                env.extend(files.into_iter().map(|f| (f.variable.to_string(), f.content)));
                tmpfs.push(Tmpfs {
                    container_path: grafana::PROVISIONING_DIR.into(),
                    size: 1,
                    mount_options: vec!["noexec".into(), "nosuid".into()],
                });
            }
        }
        "admin-tools" => {
            // Each one-off step sends its script as the command (RunTask overrides); a
            // shell entry point makes that independent of the image's own ENTRYPOINT.
            entry_point = temporal::SHELL_ENTRY_POINT.map(String::from).to_vec();
            if let Some(arn) = i.tls_secret_arn {
                secrets.extend(STEP_TLS_VARIABLES.iter().map(|(variable, key, _)| secret_key(variable, arn, key)));
            }
        }
        "adot" => {
            command = vec!["--config".into(), "env:AOT_CONFIG_CONTENT".into()];
            // Where its task discovery writes the targets (documents::adot).
            tmpfs.push(Tmpfs {
                container_path: crate::documents::adot::TARGETS_DIR.into(),
                size: 1,
                mount_options: vec!["noexec".into(), "nosuid".into()],
            });
            secrets.push(Secret {
                name: "AOT_CONFIG_CONTENT".into(),
                value_from: i.secret_arn.unwrap_or_default().into(),
            });
        }
        _ => {}
    }
    env.extend(i.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    let log_options = BTreeMap::from([
        ("awslogs-group".to_string(), i.log_group.to_string()),
        ("awslogs-region".to_string(), i.region.to_string()),
        ("awslogs-stream-prefix".to_string(), kind.container.to_string()),
    ]);
    // No `awslogs-create-group`: the graph owns every log group (retention, tags, kept by
    // `down`), and the option would need `logs:CreateLogGroup` the execution role lacks.
    TaskDefinition {
        family: family(i.project, kind),
        requires_compatibilities: vec!["EC2".into()],
        network_mode: "awsvpc".into(),
        cpu: i.cpu.to_string(),
        memory: i.memory.to_string(),
        runtime_platform: RuntimePlatform { cpu_architecture: "ARM64".into(), operating_system_family: "LINUX".into() },
        execution_role_arn: i.execution_role_arn.into(),
        task_role_arn: i.task_role_arn.into(),
        container_definitions: vec![Container {
            name: kind.container.into(),
            image: i.image.into(),
            essential: true,
            memory_reservation: i.memory.saturating_sub(PROXY_MEMORY).max(64) as i32,
            entry_point,
            command,
            port_mappings: kind
                .ports
                .iter()
                .map(|(name, port)| PortMapping {
                    name: (*name).into(),
                    container_port: *port,
                    host_port: (*name == "metrics").then_some(*port),
                    protocol: "tcp".into(),
                    app_protocol: app_protocol(kind, name),
                })
                .collect(),
            environment: env.into_iter().map(|(name, value)| NameValue { name, value }).collect(),
            secrets,
            log_configuration: LogConfiguration { log_driver: "awslogs".into(), options: log_options },
            linux_parameters: LinuxParameters { init_process_enabled: true, tmpfs },
            health_check,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_kinds::{ADMIN_TOOLS, SERVICES, service};

    pub(super) static NO_AUTH: std::sync::LazyLock<temporalctl_config::Authorization> =
        std::sync::LazyLock::new(|| temporalctl_config::Authorization { allow_no_auth: true, ..Default::default() });

    /// With authorization the UI logs users in (OIDC) and the servers drop
    /// `--allow-no-auth`; the client secret is injected from the user's secret by its
    /// ARN, never written into the document.
    #[test]
    fn with_authorization_the_ui_logs_in_and_no_server_allows_no_auth() {
        let authorization = temporalctl_config::Authorization {
            jwks_url: Some("https://login.example.com/jwks.json".into()),
            ui: Some(temporalctl_config::UiLogin {
                issuer_url: "https://login.example.com".into(),
                client_id: "temporal-ui".into(),
                client_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/ui".into(),
                callback_url: temporalctl_config::UI_LOCAL_CALLBACK.into(),
                scopes: vec!["openid".into(), "email".into()],
            }),
            ..Default::default()
        };
        let env = BTreeMap::new();
        let with = |kind: &ServiceKind| render(kind, &Inputs { authorization: &authorization, ..inputs(kind, &env) });
        let ui = &with(service("ui")).container_definitions[0];
        let value = |name: &str| ui.environment.iter().find(|v| v.name == name).map(|v| v.value.as_str());
        assert_eq!(value("TEMPORAL_AUTH_ENABLED"), Some("true"));
        assert_eq!(value("TEMPORAL_AUTH_TYPE"), Some("oidc"));
        assert_eq!(value("TEMPORAL_AUTH_PROVIDER_URL"), Some("https://login.example.com"));
        assert_eq!(value("TEMPORAL_AUTH_CLIENT_ID"), Some("temporal-ui"));
        assert_eq!(value("TEMPORAL_AUTH_CALLBACK_URL"), Some("http://localhost:8080/auth/sso/callback"));
        assert_eq!(value("TEMPORAL_AUTH_SCOPES"), Some("openid,email"));
        assert_eq!(value("TEMPORAL_AUTH_CLIENT_SECRET"), None);
        let secret = ui.secrets.iter().find(|s| s.name == "TEMPORAL_AUTH_CLIENT_SECRET").expect("injected");
        assert_eq!(secret.value_from, "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/ui");
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            let td = with(kind);
            assert!(!td.container_definitions[0].command[0].contains("--allow-no-auth"), "{}", kind.key);
            let open = render(kind, &inputs(kind, &env));
            assert!(open.container_definitions[0].command[0].contains("--allow-no-auth"), "{}", kind.key);
        }
        let plain_ui = render(service("ui"), &inputs(service("ui"), &env));
        assert!(plain_ui.container_definitions[0].environment.iter().all(|v| !v.name.starts_with("TEMPORAL_AUTH_")));
    }

    fn inputs<'a>(kind: &ServiceKind, env: &'a BTreeMap<String, String>) -> Inputs<'a> {
        Inputs {
            project: "demo",
            region: "us-east-1",
            cpu: 512,
            memory: 1024,
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/temporal-dsql:latest",
            execution_role_arn: "arn:aws:iam::123456789012:role/demo-ecs-execution",
            task_role_arn: "arn:aws:iam::123456789012:role/demo-task",
            log_group: "/ecs/demo/service",
            environment: env,
            temporal_config: kind.is_temporal().then_some("# enable-template\n..."),
            dynamic_config: DYNAMIC,
            secret_arn: match kind.key {
                "grafana" => Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/grafana-admin-AbCdEf"),
                "adot" => Some("arn:aws:ssm:us-east-1:123456789012:parameter/demo/adot/collector-config"),
                _ => None,
            },
            prometheus_endpoint: (kind.key == "grafana")
                .then_some("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/"),
            tls_secret_arn: Some(TLS_SECRET),
            authorization: &NO_AUTH,
            dsql_limits: LIMITS,
            rate_table: None,
            public_url: None,
        }
    }

    const LIMITS: temporalctl_config::dsql_budget::TaskLimits =
        temporalctl_config::dsql_budget::TaskLimits { rate: 2, burst: 25, tasks: 32 };

    /// What `temporal::dynamic_config` renders with no key of the user's.
    const DYNAMIC: &str = "system.enableNexus:\n  - value: false\n";
    const TLS_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/temporal-tls-GhIjKl";

    #[test]
    fn snapshots_of_every_service() {
        let env = BTreeMap::new();
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            insta::assert_json_snapshot!(format!("task-definition-{}", kind.key), render(kind, &inputs(kind, &env)));
        }
    }

    /// Seed 002's properties 2, 3, 5, 6, 10 and 14 on every rendered definition.
    #[test]
    fn seed_properties_hold_for_every_service() {
        let env = BTreeMap::new();
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            let td = render(kind, &inputs(kind, &env));
            let c = &td.container_definitions[0];
            assert_eq!(td.runtime_platform.cpu_architecture, "ARM64", "{}", kind.key);
            assert!(c.linux_parameters.init_process_enabled);
            assert_eq!(c.log_configuration.log_driver, "awslogs");
            assert!(!c.log_configuration.options.contains_key("awslogs-create-group"), "we own the log groups");
            assert_eq!(c.log_configuration.options["awslogs-group"], "/ecs/demo/service");
            assert_eq!(c.log_configuration.options["awslogs-stream-prefix"], kind.container);
            assert!(c.environment.iter().all(|e| !e.name.contains("PASSWORD")), "no secret in environment");
            let tmpfs = &c.linux_parameters.tmpfs;
            // A writable place where a read-only image needs one: the Temporal config, the
            // targets ADOT's task discovery writes, Grafana's provisioning.
            let writable: Vec<&str> = tmpfs.iter().map(|t| t.container_path.as_str()).collect();
            match kind.key {
                _ if kind.is_temporal() => assert_eq!(writable, ["/etc/temporal/config/dynamicconfig"]),
                "adot" => assert_eq!(writable, [crate::documents::adot::TARGETS_DIR]),
                "grafana" => assert_eq!(writable, [grafana::PROVISIONING_DIR]),
                _ => assert!(writable.is_empty(), "{}", kind.key),
            }
            assert!(tmpfs.iter().all(|t| t.mount_options == ["noexec", "nosuid"]));
            // The metrics port names its hostPort, where the collector scrapes each task.
            for p in &c.port_mappings {
                assert_eq!(p.host_port, (p.name == "metrics").then_some(p.container_port), "{}", kind.key);
            }
        }
        let ports = |k: &str| {
            render(service(k), &inputs(service(k), &env)).container_definitions[0]
                .port_mappings
                .iter()
                .map(|p| p.container_port)
                .collect::<Vec<_>>()
        };
        assert_eq!(ports("history"), vec![7234, 6934, 9090]);
        assert_eq!(ports("matching"), vec![7235, 6935, 9090]);
        assert_eq!(ports("frontend"), vec![7233, 6933, 9090]);
        assert_eq!(ports("worker"), vec![7239, 6939, 9090]);
        assert_eq!(ports("ui"), vec![8080]);
        let grafana = render(service("grafana"), &inputs(service("grafana"), &env));
        assert!(
            grafana.container_definitions[0]
                .secrets
                .iter()
                .any(|s| s.name == "GF_SECURITY_ADMIN_PASSWORD" && s.value_from.ends_with(":admin_password::"))
        );
    }

    /// Issue 27: each Temporal task limits its new DSQL connections to its share of the
    /// cluster's (the fork's per-task limiter) and starts staggered; nothing else connects.
    #[test]
    fn temporal_tasks_carry_their_share_of_dsqls_connection_limits() {
        let env = BTreeMap::new();
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            let td = render(kind, &inputs(kind, &env));
            let value = |name: &str| {
                td.container_definitions[0].environment.iter().find(|e| e.name == name).map(|e| e.value.clone())
            };
            let limits = (
                value("DSQL_CONNECTION_RATE_LIMIT"),
                value("DSQL_CONNECTION_BURST_LIMIT"),
                value("DSQL_STAGGERED_STARTUP"),
            );
            if kind.is_temporal() {
                assert_eq!(limits, (Some("2".into()), Some("25".into()), Some("true".into())), "{}", kind.key);
            } else {
                assert_eq!(limits, (None, None, None), "{}", kind.key);
            }
            assert!(value("DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED").is_none(), "off unless asked");
            // With coordination: the table, and the cluster-wide share a second.
            let coordinated =
                render(kind, &Inputs { rate_table: Some("demo-dsql-rate-limiter"), ..inputs(kind, &env) });
            let value = |name: &str| {
                coordinated.container_definitions[0]
                    .environment
                    .iter()
                    .find(|e| e.name == name)
                    .map(|e| e.value.clone())
            };
            let wanted = kind.is_temporal().then(|| {
                (Some("true".to_string()), Some("demo-dsql-rate-limiter".to_string()), Some("80".to_string()))
            });
            let found = (
                value("DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED"),
                value("DSQL_DISTRIBUTED_RATE_LIMITER_TABLE"),
                value("DSQL_DISTRIBUTED_RATE_LIMITER_LIMIT"),
            );
            assert_eq!(wanted.unwrap_or((None, None, None)), found, "{}", kind.key);
        }
    }

    /// ECS refuses a task definition over 64 KiB (AWS, "Amazon ECS service quotas", task
    /// definition size, not adjustable). Grafana's carries its provisioning; each keeps a
    /// quarter of the limit for the user's environment.
    #[test]
    fn every_task_definition_fits_the_size_ecs_accepts_with_room_to_spare() {
        let env = BTreeMap::new();
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            let size = serde_json::to_vec(&render(kind, &inputs(kind, &env))).unwrap().len();
            assert!(size < 48 * 1024, "{}: {size} bytes", kind.key);
        }
    }

    /// Grafana starts through the script that writes its provisioning from the
    /// environment, every file's variable present, then the image's own entry point.
    #[test]
    fn grafana_is_provisioned_by_its_start_command() {
        let env = BTreeMap::new();
        let td = render(service("grafana"), &inputs(service("grafana"), &env));
        let c = &td.container_definitions[0];
        assert_eq!(c.entry_point, temporal::SHELL_ENTRY_POINT);
        let files = grafana::files(
            "us-east-1",
            "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/",
            "demo-cluster",
        );
        assert_eq!(c.command, [grafana::start_script(&files)]);
        for f in &files {
            assert!(c.environment.iter().any(|e| e.name == f.variable && e.value == f.content), "{}", f.variable);
        }
        assert!(c.environment.iter().any(|e| e.name == "GF_AUTH_SIGV4_AUTH_ENABLED" && e.value == "true"));
    }

    #[test]
    fn user_environment_is_added_and_wins() {
        let env = BTreeMap::from([("LOG_LEVEL".to_string(), "debug".to_string())]);
        let td = render(service("history"), &inputs(service("history"), &env));
        assert!(
            td.container_definitions[0]
                .environment
                .contains(&NameValue { name: "LOG_LEVEL".into(), value: "debug".into() })
        );
    }
}

/// Each Temporal task definition run the way ECS runs it: `entryPoint` + `command`, or
/// the image's own ENTRYPOINT + `command` when no entry point is set. The script then
/// really runs under `/bin/sh`, with stand-ins for `wget` (the metadata endpoint) and
/// `temporal-server` on PATH, and the tmpfs moved to a temporary directory.
#[cfg(test)]
mod container_start {
    use std::collections::BTreeSet;

    use super::*;
    use crate::documents::sandbox::Sandbox;
    use crate::documents::temporal::{CONFIG_DIR, METADATA_VARIABLE};
    use crate::service_kinds::SERVICES;

    /// The server images' ENTRYPOINT: a program that does not run its arguments as shell.
    const IMAGE_ENTRYPOINT: &str = "/usr/local/bin/entrypoint.sh";
    const TASK_IP: &str = "10.0.2.106";

    fn rendered(kind: &ServiceKind) -> TaskDefinition {
        let env = BTreeMap::new();
        let config = "# enable-template\nservices: {}\n";
        render(
            kind,
            &Inputs {
                project: "demo",
                region: "us-east-1",
                cpu: 512,
                memory: 1024,
                image: "server:1",
                execution_role_arn: "arn:aws:iam::1:role/x",
                task_role_arn: "arn:aws:iam::1:role/y",
                log_group: "/ecs/demo/x",
                environment: &env,
                temporal_config: Some(config),
                dynamic_config: &crate::documents::temporal::dynamic_config(&Default::default()),
                secret_arn: None,
                prometheus_endpoint: None,
                tls_secret_arn: Some("arn:aws:secretsmanager:us-east-1:1:secret:demo/temporal-tls-AbCdEf"),
                authorization: &super::tests::NO_AUTH,
                dsql_limits: temporalctl_config::dsql_budget::TaskLimits { rate: 2, burst: 25, tasks: 32 },
                rate_table: None,
                public_url: None,
            },
        )
    }

    /// What the container runs: argv as ECS assembles it.
    fn argv(c: &Container) -> Vec<String> {
        let entry = if c.entry_point.is_empty() { vec![IMAGE_ENTRYPOINT.to_string()] } else { c.entry_point.clone() };
        entry.into_iter().chain(c.command.iter().cloned()).collect()
    }

    struct Started {
        status: std::process::ExitStatus,
        stderr: String,
        /// What the stand-in server saw: its argv, broadcast address, and the config file.
        server: Option<String>,
        config_written: bool,
        dynamic_config: Option<String>,
        /// The TLS files the script wrote: name, mode and content.
        tls_files: Vec<(String, u32, String)>,
    }

    /// Run the container's script. `metadata` is what the endpoint answers; None fails it.
    fn start(c: &Container, metadata: Option<&str>) -> Started {
        let argv = argv(c);
        assert_eq!(argv[..2], ["/bin/sh", "-c"], "{}: the start script must be what runs", c.name);
        let sandbox = Sandbox::new(&format!("start-{}", c.name));
        let config_dir = sandbox.dir.join("tmpfs");
        std::fs::create_dir_all(&config_dir).unwrap();
        let answer = match metadata {
            Some(json) => {
                format!("[ \"$*\" = \"-q -T 5 -O- http://169.254.170.2/v4/c\" ] || exit 9\nprintf '%s' '{json}'")
            }
            None => "exit 1".to_string(),
        };
        sandbox.stub("wget", &answer);
        sandbox.stub(
            "temporal-server",
            "{ echo \"argv: $*\"; echo \"broadcast: $TEMPORAL_BROADCAST_ADDRESS\"; \
             echo \"tls variables: $(env | grep -c '^TEMPORALCTL_TLS')\"; \
             f=$(echo \"$*\" | sed -n 's/.*--config-file \\([^ ]*\\).*/\\1/p'); echo \"config:\"; cat \"$f\"; } > \"$SANDBOX/server-saw\"",
        );
        let script = argv[2].replace(CONFIG_DIR, config_dir.to_str().unwrap());
        let mut env: Vec<(&str, &str)> = vec![(METADATA_VARIABLE, "http://169.254.170.2/v4/c")];
        env.extend(c.environment.iter().map(|e| (e.name.as_str(), e.value.as_str())));
        // What ECS injects from the secrets: a stand-in value naming the key it came from.
        let injected: Vec<(String, String)> =
            c.secrets.iter().map(|s| (s.name.clone(), format!("-----BEGIN stand-in-----\n{}", s.value_from))).collect();
        env.extend(injected.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let out = sandbox.run(&script, &env);
        let tls_files = std::fs::read_dir(config_dir.join("tls"))
            .map(|dir| {
                use std::os::unix::fs::PermissionsExt;
                let mut files: Vec<(String, u32, String)> = dir
                    .map(|e| e.unwrap().path())
                    .map(|p| {
                        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                        let name = p.file_name().unwrap().to_string_lossy().into_owned();
                        (name, mode, std::fs::read_to_string(&p).unwrap())
                    })
                    .collect();
                files.sort();
                files
            })
            .unwrap_or_default();
        Started {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into(),
            server: std::fs::read_to_string(sandbox.dir.join("server-saw")).ok(),
            config_written: config_dir.join("temporal.yaml").exists(),
            dynamic_config: std::fs::read_to_string(config_dir.join(crate::documents::temporal::DYNAMIC_CONFIG_FILE))
                .ok(),
            tls_files,
        }
    }

    fn metadata() -> String {
        format!(
            "{{\"Name\":\"temporal-history\",\"Networks\":[{{\"NetworkMode\":\"awsvpc\",\"IPv4Addresses\":[\"{TASK_IP}\"]}}]}}"
        )
    }

    #[test]
    fn the_start_script_runs_writes_the_config_then_starts_the_server() {
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            let td = rendered(kind);
            let c = &td.container_definitions[0];
            let started = start(c, Some(&metadata()));
            assert!(started.status.success(), "{}: {}", kind.key, started.stderr);
            let saw = started.server.expect("temporal-server was started");
            let role = kind.temporal_role.unwrap();
            assert!(saw.contains(&format!("start --service {role}")), "{saw}");
            assert!(saw.contains(&format!("broadcast: {TASK_IP}")), "{saw}");
            let config = &c.environment.iter().find(|e| e.name == "TEMPORAL_SERVER_CONFIG").unwrap().value;
            assert!(saw.ends_with(&format!("config:\n{config}")), "the config was written before the start: {saw}");
            assert!(started.config_written);
            let dynamic = started.dynamic_config.expect("dynamic config written");
            assert_eq!(dynamic, "system.enableNexus:\n  - value: false\n");
            // The TLS material: one file per injected value, readable by the server's user
            // alone, and no key left in the server's environment.
            let mut wanted = vec!["authority.pem", "internode.key", "internode.pem"];
            if kind.key == "frontend" {
                wanted.extend(["frontend.key", "frontend.pem"]);
                wanted.sort();
            }
            let names: Vec<&str> = started.tls_files.iter().map(|(n, _, _)| n.as_str()).collect();
            assert_eq!(names, wanted, "{}", kind.key);
            for (name, mode, content) in &started.tls_files {
                assert_eq!(*mode, 0o600, "{}: {name}", kind.key);
                assert!(
                    content.starts_with("-----BEGIN stand-in-----") && content.ends_with('\n'),
                    "{name}: {content}"
                );
            }
            assert!(saw.contains("tls variables: 0\n"), "{saw}");
        }
    }

    #[test]
    fn a_missing_tls_value_stops_the_container_naming_it() {
        let td = rendered(crate::service_kinds::service("matching"));
        let mut c = td.container_definitions[0].clone();
        c.secrets.retain(|s| s.name != "TEMPORALCTL_TLS_INTERNODE_KEY");
        let started = start(&c, Some(&metadata()));
        assert!(!started.status.success() && started.server.is_none());
        assert!(started.stderr.contains("no TEMPORALCTL_TLS_INTERNODE_KEY (the TLS secret)"), "{}", started.stderr);
    }

    #[test]
    fn a_failed_metadata_read_or_a_missing_address_stops_the_container_loudly() {
        let td = rendered(crate::service_kinds::service("history"));
        let c = &td.container_definitions[0];
        let unreachable = start(c, None);
        assert!(!unreachable.status.success());
        assert!(unreachable.server.is_none(), "the server must not start without its address");
        assert!(unreachable.stderr.contains("cannot read the task metadata"), "{}", unreachable.stderr);
        let no_endpoint = Sandbox::new("start-no-endpoint").run(&argv(c)[2], &[]);
        assert!(!no_endpoint.status.success());
        assert!(String::from_utf8_lossy(&no_endpoint.stderr).contains("no task metadata endpoint"));
        let no_ip = start(c, Some("{\"Networks\":[]}"));
        assert!(!no_ip.status.success() && no_ip.server.is_none());
        assert!(no_ip.stderr.contains("no IPv4 address"), "{}", no_ip.stderr);
    }

    /// Every file, port and variable the script and its config use exists in the task
    /// definition: the config dir is a tmpfs mount, the config's ports are mapped, and
    /// every `$VAR` is in the environment or set by ECS or by the script itself.
    #[test]
    fn what_the_script_uses_is_in_the_task_definition() {
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            let td = rendered(kind);
            let c = &td.container_definitions[0];
            let script = &argv(c)[2];
            assert!(c.linux_parameters.tmpfs.iter().any(|t| t.container_path == CONFIG_DIR), "{}", kind.key);
            assert!(script.contains(&format!("> {CONFIG_DIR}/temporal.yaml")));
            let defined: BTreeSet<&str> = c
                .environment
                .iter()
                .map(|e| e.name.as_str())
                .chain(c.secrets.iter().map(|s| s.name.as_str()))
                .collect();
            let own = ["metadata", "TEMPORAL_BROADCAST_ADDRESS", METADATA_VARIABLE];
            for var in script.split('$').skip(1) {
                let name: String = var
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() {
                    continue; // `$(`, `$*`: not a variable
                }
                assert!(
                    defined.contains(name.as_str()) || own.contains(&name.as_str()),
                    "{}: ${name} is never set",
                    kind.key
                );
            }
            let mapped: BTreeSet<i32> = c.port_mappings.iter().map(|p| p.container_port).collect();
            for name in ["grpc", "membership"] {
                assert!(mapped.contains(&kind.port(name).unwrap()), "{}: {name} port not mapped", kind.key);
            }
        }
    }

    /// Service Connect gives http/grpc ports a 15 s per-request timeout; Temporal's long
    /// polls last 60-70 s, so its gRPC and membership ports must be TCP.
    #[test]
    fn temporal_ports_are_plain_tcp_for_service_connect() {
        for kind in SERVICES.iter().filter(|k| k.is_temporal()) {
            let td = rendered(kind);
            for p in &td.container_definitions[0].port_mappings {
                let tcp = p.app_protocol.is_none();
                assert_eq!(tcp, p.name != "metrics", "{} port {}: {:?}", kind.key, p.name, p.app_protocol);
            }
        }
    }
}
