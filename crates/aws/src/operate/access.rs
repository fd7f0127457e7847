//! How an operator reaches the cluster: the running tasks (one batched list and
//! describe), the endpoints, and the exact commands for a shell in a task (ECS Exec) and
//! for port-forwarding to the UI, Grafana and the frontend through Session Manager.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::DesiredStatus;
use serde::Serialize;
use temporalctl_engine::ResourceError;

use super::Operator;
use super::tasks::task_ip;
use super::waves::{ServiceState, Stability};
use crate::documents::service::service_name;
use crate::outputs::Output;
use crate::platform::{secret, tls};
use crate::service_kinds::{FRONTEND_GRPC_PORT, SERVICES, ServiceKind};
use crate::stack;

/// One running task of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskInfo {
    pub id: String,
    pub ip: Option<String>,
    /// The EC2 instance it runs on.
    pub instance: Option<String>,
    /// The service container's runtime id, which ECS reports once it started: with the
    /// task id, the Session Manager target for port forwarding into the task.
    pub runtime_id: Option<String>,
}

/// A way in, as a command to paste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub name: String,
    pub what: String,
    pub command: String,
    /// Why the command has placeholders (no running task), when it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What runs and how to reach it: `status`'s second half.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub services: Vec<ServiceRow>,
    pub endpoints: BTreeMap<&'static str, String>,
    pub commands: Vec<Access>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    #[serde(flatten)]
    pub state: ServiceState,
    /// running / settling / failed / absent.
    pub health: &'static str,
    pub tasks: Vec<TaskInfo>,
}

/// The endpoint workers and clients connect to: the frontend's balancer, when there is one.
pub const TEMPORAL_ADDRESS: &str = "temporal-address";
/// The ingress balancer's DNS name, which the UI's and Grafana's host names point at.
pub const INGRESS_ADDRESS: &str = "ingress-address";

/// (name, service key, port): what `status` offers to forward.
pub const FORWARDS: &[(&str, &str, i32)] =
    &[("ui", "ui", 8080), ("grafana", "grafana", 3000), ("frontend", "frontend", 7233)];

impl Operator<'_> {
    /// Services, their tasks, the endpoints and the access commands: five read calls
    /// (DescribeServices, ListTasks, DescribeTasks, DescribeContainerInstances) at most.
    pub async fn runtime(&self) -> Result<Runtime, ResourceError> {
        let kinds: Vec<&'static ServiceKind> = SERVICES.iter().collect();
        let states = self.describe(&kinds).await?;
        let any = states.iter().any(|(s, _)| s.exists);
        let mut tasks = if any { self.running_tasks().await? } else { BTreeMap::new() };
        let services = states
            .into_iter()
            .map(|(state, _)| {
                let health = match (state.exists, state.stability(state.desired)) {
                    (false, _) => "absent",
                    (true, Stability::Stable) => "running",
                    (true, Stability::Settling(_)) => "settling",
                    (true, Stability::Failed(_)) => "failed",
                };
                ServiceRow { tasks: tasks.remove(state.service).unwrap_or_default(), state, health }
            })
            .collect::<Vec<_>>();
        let by_key: BTreeMap<&'static str, Vec<TaskInfo>> =
            services.iter().map(|s| (s.state.service, s.tasks.clone())).collect();
        let mut commands = access_commands(&self.deploy.region, &self.cluster(), &by_key);
        // A command into a service ECS Exec does not reach would only fail: say why instead.
        for access in &mut commands {
            // The shell is the frontend's; each forward is named after its service.
            let key = if access.name == "shell" { "frontend".to_string() } else { access.name.clone() };
            if !self.deploy.services.exec(&key) {
                access.note =
                    Some(format!("services.{key}.exec is off: turn it on in deploy.yaml and run `temporalctl up`"));
            }
        }
        Ok(Runtime { commands, endpoints: self.endpoints(), services })
    }

    /// Running tasks by service key: ListTasks and DescribeTasks for the whole cluster,
    /// DescribeContainerInstances for their instances — three calls whatever the size.
    pub async fn running_tasks(&self) -> Result<BTreeMap<&'static str, Vec<TaskInfo>>, ResourceError> {
        let arns = self.list_tasks("ListTasks", None, DesiredStatus::Running).await?;
        let tasks = self.describe_tasks("DescribeTasks", &arns).await?;
        let mut by_service: BTreeMap<&'static str, Vec<TaskInfo>> = BTreeMap::new();
        let groups: Vec<(String, &'static ServiceKind)> =
            SERVICES.iter().map(|k| (format!("service:{}", service_name(&self.deploy.project, k)), k)).collect();
        let mut instances: Vec<String> =
            tasks.iter().filter_map(|t| t.container_instance_arn().map(String::from)).collect();
        instances.sort();
        instances.dedup();
        let ec2_of: BTreeMap<String, String> = self
            .describe_instances("DescribeContainerInstances", &instances)
            .await?
            .iter()
            .filter_map(|ci| Some((ci.container_instance_arn()?.to_string(), ci.ec2_instance_id()?.to_string())))
            .collect();
        for t in tasks.iter().filter(|t| t.desired_status() == Some("RUNNING")) {
            let Some((_, kind)) = groups.iter().find(|(g, _)| t.group() == Some(g.as_str())) else { continue };
            let arn = t.task_arn().unwrap_or_default();
            let main = t.containers().iter().find(|c| c.name() == Some(kind.container));
            by_service.entry(kind.key).or_default().push(TaskInfo {
                id: arn.rsplit('/').next().unwrap_or(arn).to_string(),
                ip: task_ip(t),
                instance: t.container_instance_arn().and_then(|ci| ec2_of.get(ci).cloned()),
                runtime_id: main.and_then(|c| c.runtime_id()).map(String::from),
            });
        }
        Ok(by_service)
    }

    /// The data and metrics endpoints, from the recorded outputs.
    pub fn endpoints(&self) -> BTreeMap<&'static str, String> {
        let get = |node: &str, key: Output| self.recorded(node, key);
        let mut e = BTreeMap::new();
        if let Some(v) = get(stack::DSQL, Output::Endpoint) {
            e.insert("dsql", format!("{v}:5432 (user admin, database postgres, IAM auth)"));
        }
        if let Some(v) = get(stack::OPENSEARCH, Output::Endpoint).filter(|v| !v.is_empty()) {
            e.insert("opensearch", format!("https://{v}"));
        }
        if let Some(v) = get(stack::WORKSPACE, Output::PrometheusEndpoint).filter(|v| !v.is_empty()) {
            e.insert("prometheus", v);
        }
        let tls = if self.deploy.temporal.tls.enabled {
            "; mutual TLS: a client certificate from `temporalctl tls client-cert`"
        } else {
            "; plaintext (temporal.tls.enabled is false)"
        };
        e.insert("frontend-grpc", format!("temporal-frontend:7233 (Service Connect, inside the cluster{tls})"));
        // Only the balancer's address: what its listener and `frontend.clients` admit is
        // the balancer's own business (docs/runbook.md, "Connect your workers").
        if let Some(dns) = get(stack::LOAD_BALANCER, Output::Endpoint).filter(|v| !v.is_empty()) {
            e.insert(TEMPORAL_ADDRESS, format!("{dns}:{FRONTEND_GRPC_PORT}"));
        }
        e.insert("authorization", authorization(&self.deploy.temporal));
        let t = &self.deploy.temporal.tls;
        if let Some(v) = t.enabled.then(|| tls_validity(self.nodes, t.private_ca_arn.is_some())).flatten() {
            e.insert("tls", v.describe());
        }
        // With `ingress`, people's addresses; the balancer's name is what their DNS names
        // must point at (a CNAME, or an alias record in Route 53).
        let balancer = get(stack::INGRESS_BALANCER, Output::Endpoint).filter(|v| !v.is_empty());
        match (&self.deploy.ingress, balancer) {
            (Some(i), Some(dns)) => {
                // With a zone, temporalctl wrote the aliases itself.
                let pointed = match &i.hosted_zone_id {
                    Some(zone) => format!("alias in {zone} to {dns}"),
                    None => format!("point it at {dns}"),
                };
                e.insert("ui", format!("https://{} ({pointed})", i.ui_host));
                e.insert("grafana", format!("https://{} ({pointed})", i.grafana_host));
                e.insert(INGRESS_ADDRESS, dns);
            }
            _ => {
                e.insert("ui", "http://localhost:8080 once forwarded (`temporalctl connect ui`)".into());
                e.insert("grafana", "http://localhost:3000 once forwarded (`temporalctl connect grafana`)".into());
            }
        }
        e
    }
}

/// Who may call the frontend, as `status` says it: the open choice in plain words.
pub fn authorization(t: &temporalctl_config::Temporal) -> String {
    let a = &t.authorization;
    match &a.jwks_url {
        Some(url) => format!(
            "JWTs signed by the keys at {url} (claim `{}`); callers send `Authorization: Bearer <token>` (the temporal CLI: --api-key)",
            a.permissions_claim.as_deref().unwrap_or(crate::documents::temporal::PERMISSIONS_CLAIM)
        ),
        None if t.tls.enabled => {
            "NONE (temporal.authorization.allow_no_auth): any holder of a client certificate may do anything".into()
        }
        None => "NONE (temporal.authorization.allow_no_auth): anyone who reaches the frontend may do anything".into(),
    }
}

/// The commands to reach the cluster, given its running tasks. Pure, so tested as text.
pub fn access_commands(region: &str, cluster: &str, tasks: &BTreeMap<&'static str, Vec<TaskInfo>>) -> Vec<Access> {
    let first = |key: &str| tasks.get(key).and_then(|t| t.first());
    let missing =
        |key: &str| first(key).is_none().then(|| format!("no running {key} task: run `temporalctl scale up` first"));
    let frontend = first("frontend");
    let task = frontend.map_or("<TASK_ID>", |t| t.id.as_str());
    let mut out = vec![Access {
        name: "shell".into(),
        what: "a shell in a frontend task (ECS Exec; the server image has no `temporal` CLI: `status --check` proves the cluster serves)".into(),
        command: shell_line(&exec_argv(region, cluster, task, "temporal-frontend", DEFAULT_EXEC_COMMAND)),
        note: missing("frontend"),
    }];
    for (name, key, port) in FORWARDS {
        let task = first(key);
        let target = ecs_target(
            cluster,
            task.map_or("<TASK_ID>", |t| t.id.as_str()),
            task.and_then(|t| t.runtime_id.as_deref()).unwrap_or("<RUNTIME_ID>"),
        );
        out.push(Access {
            name: (*name).into(),
            what: format!("{name} on localhost:{port}"),
            command: shell_line(&forward_argv(region, &target, *port, u16::try_from(*port).unwrap_or_default())),
            note: missing(key),
        });
    }
    out
}

/// What ECS Exec runs when no command is given.
pub const DEFAULT_EXEC_COMMAND: &str = "/bin/sh";

/// `aws ecs execute-command`: an interactive command in one container of a task.
pub fn exec_argv(region: &str, cluster: &str, task: &str, container: &str, command: &str) -> Vec<String> {
    [
        "aws",
        "ecs",
        "execute-command",
        "--region",
        region,
        "--cluster",
        cluster,
        "--task",
        task,
        "--container",
        container,
        "--interactive",
        "--command",
        command,
    ]
    .map(String::from)
    .to_vec()
}

/// The Session Manager target of one container: the ECS Exec agent inside the task.
pub fn ecs_target(cluster: &str, task: &str, runtime_id: &str) -> String {
    format!("ecs:{cluster}_{task}_{runtime_id}")
}

/// `aws ssm start-session` forwarding `local_port` to `port` inside the task `target`
/// (`ecs_target`). The session runs through the task's own ECS Exec agent, so it needs no
/// security group opening and works whatever the instance.
pub fn forward_argv(region: &str, target: &str, port: i32, local_port: u16) -> Vec<String> {
    let parameters = format!("portNumber={port},localPortNumber={local_port}");
    [
        "aws",
        "ssm",
        "start-session",
        "--region",
        region,
        "--target",
        target,
        "--document-name",
        "AWS-StartPortForwardingSession",
        "--parameters",
        &parameters,
    ]
    .map(String::from)
    .to_vec()
}

/// A command line to paste into a POSIX shell: arguments quoted only where they must be
/// (`<` and `>` always: pasted bare they would redirect, and could truncate a file).
pub fn shell_line(argv: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,@%+".contains(c);
    argv.iter()
        .map(
            |a| {
                if !a.is_empty() && a.chars().all(plain) {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            },
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long the deployment's TLS material is valid, from its secrets' creation dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsValidity {
    pub certificates_until: String,
    /// Our own authority's end; `None` with a private CA, whose end is its owner's to
    /// watch (the certificates never outlive it: issuing caps them).
    pub authority_until: Option<String>,
    /// Days until the certificates or the authority expire, whichever is first (negative
    /// once past): either end stops the services talking.
    pub days_left: Option<i64>,
}

impl TlsValidity {
    /// One line for `status` (and `up` once it is near): the dates, and what to do when
    /// the certificates expire within [`tls::WARN_DAYS`].
    pub fn describe(&self) -> String {
        let dates = match &self.authority_until {
            Some(authority) => {
                format!(
                    "mutual TLS; certificates valid until {}, the authority until {authority}",
                    self.certificates_until
                )
            }
            None => format!("mutual TLS; certificates from your private CA, valid until {}", self.certificates_until),
        };
        match self.days_left {
            // Dates as YYYY-MM-DD compare as text.
            Some(days)
                if days <= tls::WARN_DAYS
                    && self.authority_until.as_ref().is_some_and(|a| *a <= self.certificates_until) =>
            {
                format!(
                    "{dates}. The authority expires in {days} days and then the services cannot talk; `tls rotate` cannot go past it: replace the authority (docs/runbook.md, \"Mutual TLS\")"
                )
            }
            Some(days) if days <= tls::WARN_DAYS => format!(
                "{dates}. The certificates expire in {days} days and then the services cannot talk: renew them with `temporalctl tls rotate`"
            ),
            _ => dates,
        }
    }

    pub fn near_expiry(&self) -> bool {
        self.days_left.is_some_and(|d| d <= tls::WARN_DAYS)
    }
}

/// The validity of the TLS secrets the state (or a fresh read) records; `None` before
/// they exist. With a private CA there is no authority of ours to count.
pub fn tls_validity(
    nodes: &BTreeMap<temporalctl_engine::NodeId, temporalctl_engine::Recorded>,
    private_ca: bool,
) -> Option<TlsValidity> {
    let output = |node: &str, key: Output| nodes.get(node).and_then(|r| r.outputs.get(key.as_ref())).cloned();
    let created = |node: &str| output(node, Output::Created);
    // Said by the secret since `tls rotate` exists; counted from its creation before.
    let certificates_until = match output(stack::TLS_CERTIFICATES, Output::ValidUntil) {
        Some(until) => until,
        None => tls::valid_until(&created(stack::TLS_CERTIFICATES)?, tls::CERTIFICATE_DAYS)?,
    };
    let authority_until = match private_ca {
        true => None,
        false => Some(tls::valid_until(&created(stack::TLS_AUTHORITY)?, 365 * tls::AUTHORITY_YEARS)?),
    };
    let first = authority_until.as_ref().map_or(&certificates_until, |a| a.min(&certificates_until));
    let days_left = tls::days_left(first, std::time::SystemTime::now());
    Some(TlsValidity { certificates_until, authority_until, days_left })
}

/// What a client outside the cluster needs for the frontend's mutual TLS (`tls
/// client-cert`): the authority that signed the frontend's certificate, and the client
/// certificate and key the frontend admits.
pub struct ClientTls {
    pub authority: String,
    pub cert: String,
    key: String,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("cert", &self.cert).finish_non_exhaustive()
    }
}

impl ClientTls {
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Operator<'_> {
    /// A secret of the stack by name (its ARN, and its description), once its tags show
    /// it is ours: a same-named secret of someone else's is never read nor written.
    async fn owned_secret(
        &self,
        node: &str,
        name: &str,
    ) -> Result<(temporalctl_engine::Owned<String>, String), ResourceError> {
        let sm = &self.aws.secrets;
        let described = self
            .call(node, || async {
                sm.describe_secret().secret_id(name).send().await.map_err(crate::errors::aws("DescribeSecret"))
            })
            .await?;
        let arn = described.arn().unwrap_or_default().to_string();
        let tags = crate::tags::from_sdk(described.tags());
        let owned = temporalctl_engine::Owned::verify(&self.deploy.project, node, &arn, &tags, arn.clone())?;
        Ok((owned, described.description().unwrap_or_default().to_string()))
    }

    /// `tls rotate`: new certificates from the deployment's own authority (or its private
    /// CA) into the certificates' secret, then new tasks for every service that reads
    /// them (the Temporal services and the UI), wave by wave, each waited until stable.
    /// Old and new certificates come from one issuer, so members on either trust each
    /// other while the services roll; a change of issuer is refused here (it needs the
    /// services stopped: `up` does it). Returns the new end date and how many services
    /// rolled.
    pub async fn rotate_tls(&self) -> Result<(String, usize), ResourceError> {
        let project = &self.deploy.project;
        let node = stack::TLS_CERTIFICATES;
        let readers: Vec<&'static crate::service_kinds::ServiceKind> =
            crate::service_kinds::SERVICES.iter().filter(|k| k.is_temporal() || k.key == "ui").collect();
        // Everything this run changes is shown ours before the first change.
        let (certificates, description) = self.owned_secret(node, &stack::tls_certificates_secret(project)).await?;
        let wanted = self.deploy.temporal.tls.private_ca_arn.as_deref();
        let issued_by = secret::issuer_in(&description);
        if issued_by != wanted.unwrap_or(secret::OWN_AUTHORITY) {
            return Err(ResourceError::fatal(format!(
                "temporal.tls.private_ca_arn: the running certificates come from {issued_by}, and deploy.yaml names {}; certificates from another issuer would split the running cluster. Change the issuer with the services stopped: `temporalctl scale down`, `temporalctl up`, `temporalctl scale up`",
                wanted.unwrap_or(secret::OWN_AUTHORITY)
            )));
        }
        let from = match wanted {
            Some(arn) => secret::IssueFrom::PrivateCa(self.aws.private_ca(arn)),
            None => secret::IssueFrom::Own(
                self.owned_secret(stack::TLS_AUTHORITY, &stack::tls_authority_secret(project)).await?.0.into_inner(),
            ),
        };
        self.check_services_owned(&readers).await?;
        self.started(node, "secret", "issuing new certificates");
        let sm = &self.aws.secrets;
        let until = self.call(node, || secret::reissue_certificates(sm, project, &certificates, from.clone())).await?;
        self.finished(node, temporalctl_engine::Outcome::Updated, Some(format!("valid until {until}")));
        let rolled = self.restart(&readers).await?;
        Ok((until, rolled))
    }

    /// The client's TLS material, from the certificates' secret once its tags show it is
    /// ours.
    pub async fn client_tls(&self) -> Result<ClientTls, ResourceError> {
        use crate::platform::tls::keys;
        let node = stack::TLS_CERTIFICATES;
        let (owned, _) = self.owned_secret(node, &stack::tls_certificates_secret(&self.deploy.project)).await?;
        let arn = owned.as_str().to_string();
        let sm = &self.aws.secrets;
        let value = self
            .call(node, || async {
                sm.get_secret_value()
                    .secret_id(owned.as_str())
                    .send()
                    .await
                    .map_err(crate::errors::aws("GetSecretValue"))
            })
            .await?;
        let json: serde_json::Value = serde_json::from_str(value.secret_string().unwrap_or_default())
            .map_err(|_| ResourceError::fatal(format!("{arn} does not hold the JSON temporalctl wrote")))?;
        let field = |key: &str| {
            json[key].as_str().map(String::from).ok_or_else(|| ResourceError::fatal(format!("{arn} has no {key}")))
        };
        Ok(ClientTls {
            authority: field(keys::AUTHORITY)?,
            cert: field(keys::CLIENT_CERT)?,
            key: field(keys::CLIENT_KEY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `status` names the JWKS URL and how to send a token, or says in capitals that
    /// nobody is asked, and what still guards the frontend.
    #[test]
    fn status_says_who_may_call_the_frontend() {
        let mut t = temporalctl_config::Temporal::default();
        t.authorization.allow_no_auth = true;
        assert!(authorization(&t).starts_with("NONE") && authorization(&t).contains("client certificate"));
        t.tls.enabled = false;
        assert!(authorization(&t).contains("anyone who reaches the frontend"));
        t.authorization = temporalctl_config::Authorization {
            jwks_url: Some("https://login.example.com/jwks.json".into()),
            ..Default::default()
        };
        let said = authorization(&t);
        assert!(said.contains("https://login.example.com/jwks.json") && said.contains("--api-key"), "{said}");
        assert!(said.contains("claim `permissions`"), "{said}");
    }

    #[test]
    fn commands_name_the_task_and_its_instance_or_say_why_not() {
        let mut tasks = BTreeMap::new();
        tasks.insert(
            "frontend",
            vec![TaskInfo {
                id: "0a1b2c".into(),
                ip: Some("10.0.3.7".into()),
                instance: Some("i-0123".into()),
                runtime_id: Some("0a1b2c-3579".into()),
            }],
        );
        let got = access_commands("eu-west-1", "demo-cluster", &tasks);
        insta::assert_json_snapshot!("access-commands", got);
        assert!(got[0].command.contains("--task 0a1b2c --container temporal-frontend"));
        let ui = got.iter().find(|a| a.name == "ui").unwrap();
        assert!(ui.command.contains("<RUNTIME_ID>") && ui.note.as_deref().unwrap().contains("scale up"));
        let frontend = got.iter().find(|a| a.name == "frontend").unwrap();
        assert!(
            frontend.command.contains("--target ecs:demo-cluster_0a1b2c_0a1b2c-3579")
                && frontend.command.ends_with("--parameters portNumber=7233,localPortNumber=7233")
        );
        assert!(frontend.note.is_none());
    }

    #[test]
    fn shell_lines_quote_only_what_a_shell_would_split_or_expand() {
        let argv = exec_argv("us-east-1", "c", "t1", "temporal-frontend", "temporal operator cluster health");
        assert!(shell_line(&argv).ends_with("--command 'temporal operator cluster health'"));
        let odd = ["echo".to_string(), "it's $HOME".to_string(), String::new()];
        assert_eq!(shell_line(&odd), r"echo 'it'\''s $HOME' ''");
        // Issue 19: a redirection pasted from `--print` would write or read files.
        let redirect = ["echo".to_string(), "a>b".into(), "<RUNTIME_ID>".into(), ">>x".into()];
        assert_eq!(shell_line(&redirect), "echo 'a>b' '<RUNTIME_ID>' '>>x'");
        let fwd = forward_argv("eu-west-1", &ecs_target("c", "t1", "r1"), 8080, 18080);
        assert_eq!(fwd[6], "ecs:c_t1_r1");
        assert_eq!(fwd.last().unwrap(), "portNumber=8080,localPortNumber=18080");
    }

    #[test]
    fn tls_validity_comes_from_the_secrets_dates_and_warns_when_near() {
        use temporalctl_engine::{Phase, Recorded};
        let at = |created: &str| Recorded {
            kind: "secret".into(),
            id: "arn".into(),
            phase: Phase::Ready,
            outputs: BTreeMap::from([("created".to_string(), created.to_string())]),
        };
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap();
        let nodes = BTreeMap::from([
            (stack::TLS_AUTHORITY.to_string(), at(&now)),
            (stack::TLS_CERTIFICATES.to_string(), at(&now)),
        ]);
        let fresh = tls_validity(&nodes, false).unwrap();
        assert!(!fresh.near_expiry() && fresh.days_left.is_some_and(|d| d > 1800), "{fresh:?}");
        assert!(fresh.describe().starts_with("mutual TLS; certificates valid until "), "{}", fresh.describe());
        // Certificates made five years ago: the line says what happens and what to do.
        let old = BTreeMap::from([
            (stack::TLS_AUTHORITY.to_string(), at("2021-12-01T00:00:00Z")),
            (stack::TLS_CERTIFICATES.to_string(), at("2021-12-01T00:00:00Z")),
        ]);
        let near = tls_validity(&old, false).unwrap();
        assert!(near.near_expiry(), "{near:?}");
        assert!(near.describe().contains("then the services cannot talk: renew them"), "{}", near.describe());
        // An authority near its end: rotating cannot help, the line says what does; the
        // certificates' own date (from the description) is later than the authority's.
        let mut late = BTreeMap::from([
            (stack::TLS_AUTHORITY.to_string(), at("2016-12-20T00:00:00Z")),
            (stack::TLS_CERTIFICATES.to_string(), at(&now)),
        ]);
        late.get_mut(stack::TLS_CERTIFICATES).unwrap().outputs.insert("valid-until".into(), "2031-01-01".into());
        let ending = tls_validity(&late, false).unwrap();
        assert!(ending.near_expiry(), "{ending:?}");
        assert!(ending.describe().contains("The authority expires in"), "{}", ending.describe());
        assert!(ending.describe().contains("certificates valid until 2031-01-01"), "{}", ending.describe());
        assert_eq!(tls_validity(&BTreeMap::new(), false), None, "no secrets yet");
        // From a private CA: no authority of ours; the certificates' date alone, warned the same.
        let mut from_ca = BTreeMap::from([(stack::TLS_CERTIFICATES.to_string(), at(&now))]);
        let ca = tls_validity(&from_ca, true).unwrap();
        assert_eq!(ca.authority_until, None);
        assert!(ca.describe().starts_with("mutual TLS; certificates from your private CA, valid until "), "{ca:?}");
        from_ca.get_mut(stack::TLS_CERTIFICATES).unwrap().outputs.insert("valid-until".into(), "2021-01-01".into());
        let ca = tls_validity(&from_ca, true).unwrap();
        assert!(ca.near_expiry() && ca.describe().contains("renew them with `temporalctl tls rotate`"), "{ca:?}");
        assert_eq!(tls_validity(&from_ca, false), None, "our own authority, not yet recorded");
    }
}
