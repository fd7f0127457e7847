//! The `deploy.yaml` schema. Defaults are seed 002's development stack; every field a
//! user may set is here, so the configuration reference can be generated from it.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The newest `deploy.yaml` schema version this binary understands.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole deployment, as written in `deploy.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Deploy {
    /// Schema version of this file; must be 1.
    pub version: u32,
    /// Short lowercase name used in every resource name and ownership tag.
    pub project: String,
    /// AWS region everything is created in.
    pub region: String,
    /// Extra tags put on every taggable resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Where the state lives: this machine's `state/` directory, or an S3 bucket shared by
    /// every machine that runs this deployment.
    #[serde(default)]
    pub state: State,
    /// The VPC: subnets, NAT gateway, VPC endpoints.
    #[serde(default)]
    pub network: Network,
    /// The three EC2 Auto Scaling groups the services run on.
    #[serde(default)]
    pub node_groups: NodeGroups,
    /// Size, count and placement of the eight ECS services.
    #[serde(default)]
    pub services: Services,
    /// Temporal itself: version, shards, the default namespace.
    #[serde(default)]
    pub temporal: Temporal,
    /// How application workers and clients outside the cluster reach the frontend.
    #[serde(default)]
    pub frontend: Frontend,
    /// An HTTPS entrance for people to the Temporal UI and Grafana, routed by host name.
    /// Absent, the stack is private only: `temporalctl connect ui` and `connect grafana`
    /// forward them to localhost through Session Manager.
    #[serde(default)]
    pub ingress: Option<Ingress>,
    /// Aurora DSQL, Temporal's persistence store.
    #[serde(default)]
    pub dsql: Dsql,
    /// The OpenSearch domain for Temporal's visibility store.
    #[serde(default)]
    pub opensearch: OpenSearch,
    /// The Amazon Managed Prometheus workspace the ADOT collector writes to.
    #[serde(default)]
    pub prometheus: Prometheus,
    /// Grafana, reading Prometheus; its admin password lives in Secrets Manager.
    #[serde(default)]
    pub grafana: Grafana,
    /// The services' CloudWatch log groups.
    #[serde(default)]
    pub logs: Logs,
    /// How scale waves judge the tasks they start.
    #[serde(default)]
    pub rollout: Rollout,
    /// How long each wait on AWS may take before the run stops with what it saw.
    #[serde(default)]
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Rollout {
    /// A wave stops at once, with the stop reasons and the last log lines, when this many
    /// of the tasks it started have failed (a non-zero exit, TaskFailedToStart, an image
    /// that cannot be pulled, failed health checks). Scaling a service's count starts no
    /// ECS deployment, so the deployment circuit breaker never trips for it.
    pub failed_tasks: u32,
}

impl Default for Rollout {
    fn default() -> Self {
        Self { failed_tasks: 3 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Network {
    /// IPv4 CIDR of the VPC.
    pub vpc_cidr: String,
    /// Availability zones for the private subnets; defaults to the region's `a` and `b`.
    pub availability_zones: Vec<String>,
    /// One private subnet CIDR per availability zone; defaults to /20s carved from the VPC.
    pub private_subnet_cidrs: Vec<String>,
    /// The small public subnet that only holds the NAT gateway; defaults to the VPC's last /24.
    pub public_subnet_cidr: Option<String>,
    /// With an `internet-facing` ingress only: the second public subnet, in the second
    /// zone (a balancer needs two); defaults to the VPC's second-to-last /24.
    pub ingress_public_subnet_cidr: Option<String>,
    /// Interface VPC endpoints, by service suffix (`com.amazonaws.<region>.<suffix>`).
    pub interface_endpoints: Vec<String>,
    /// S3 gateway endpoint on the private route table (ECR image layers come from S3).
    /// On by default in the network temporalctl builds; refused with `existing`, since a
    /// gateway endpoint writes routes into route tables, which are yours there.
    pub s3_gateway_endpoint: Option<bool>,
    /// Deploy into a VPC you own instead of building one. temporalctl then creates only its
    /// security groups, the interface endpoints of `interface_endpoints`, and what runs inside; it
    /// never modifies or deletes the VPC, its subnets, route tables or gateways. The
    /// private subnets need a way out (a NAT gateway, a transit gateway) for DSQL and the
    /// public image registries; `up`'s preflight checks them and says what is missing.
    pub existing: Option<ExistingNetwork>,
}

impl Network {
    /// Whether the S3 gateway endpoint is part of the stack.
    pub fn s3_gateway(&self) -> bool {
        self.s3_gateway_endpoint.unwrap_or(self.existing.is_none())
    }
}

/// A VPC of yours to deploy into (`network.existing`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ExistingNetwork {
    /// The VPC, `vpc-…`.
    pub vpc_id: String,
    /// Two or more private subnets of that VPC, each in its own availability zone: the
    /// instances, the tasks and the OpenSearch domain run in them.
    pub private_subnet_ids: Vec<String>,
    /// Public subnets (a default route to an internet gateway) in two zones or more, for an
    /// `internet-facing` ingress balancer only.
    #[serde(default)]
    pub public_subnet_ids: Vec<String>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            vpc_cidr: "10.0.0.0/16".into(),
            availability_zones: Vec::new(),
            private_subnet_cidrs: Vec::new(),
            public_subnet_cidr: None,
            ingress_public_subnet_cidr: None,
            interface_endpoints: DEFAULT_INTERFACE_ENDPOINTS.iter().map(|s| s.to_string()).collect(),
            s3_gateway_endpoint: None,
            existing: None,
        }
    }
}

/// Seed 002's interface endpoints.
pub const DEFAULT_INTERFACE_ENDPOINTS: &[&str] =
    &["ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages", "ec2messages", "secretsmanager", "aps-workspaces"];

/// The three EC2 node groups (a, b, c), each pinned to one workload attribute;
/// `services.<s>.node_group` places each service on one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct NodeGroups {
    /// The history nodes.
    pub a: NodeGroup,
    /// The frontend, matching, UI and Grafana nodes.
    pub b: NodeGroup,
    /// The worker and collector nodes; one-off tasks (schema, namespace) run here.
    pub c: NodeGroup,
    /// Turn ECS `awsvpcTrunking` on for the instance role, the principal that registers the
    /// instances (an m7g.large then holds 10 awsvpc tasks instead of 2). Off by default: it
    /// is an account setting, changed only when asked. Instances already running keep no
    /// trunk interface until they are replaced.
    pub awsvpc_trunking: bool,
}

impl Default for NodeGroups {
    fn default() -> Self {
        Self {
            a: NodeGroup::new("history"),
            b: NodeGroup::new("frontend"),
            c: NodeGroup::new("worker"),
            awsvpc_trunking: false,
        }
    }
}

impl NodeGroups {
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &NodeGroup)> {
        [("a", &self.a), ("b", &self.b), ("c", &self.c)].into_iter()
    }

    /// The group a service's `node_group` names (`a`, `b` or `c`).
    pub fn get(&self, name: &str) -> Option<&NodeGroup> {
        self.iter().find(|(n, _)| *n == name).map(|(_, g)| g)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct NodeGroup {
    /// Value of the ECS instance attribute `workload` that services are placed by.
    pub workload: String,
    /// EC2 instance type; must be Graviton (arm64), as the task definitions are.
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    /// Fewest instances the Auto Scaling group keeps.
    #[serde(default = "one")]
    pub min_size: u32,
    /// Most instances the capacity provider may scale out to.
    #[serde(default = "two")]
    pub max_size: u32,
    /// Instances started by `up`; `cost` prices this many.
    #[serde(default = "one")]
    pub desired_capacity: u32,
    /// Root volume size in GiB (encrypted gp3).
    #[serde(default = "default_root_volume")]
    pub root_volume_gb: u32,
    /// Let AWS Systems Manager open shell sessions on this group's hosts: its instances
    /// get a role with `AmazonSSMManagedInstanceCore`, which also reads every SSM
    /// parameter in the account. Off by default: `connect` and `exec` reach the tasks
    /// through ECS Exec and need no host access.
    #[serde(default)]
    pub ssm_sessions: bool,
}

impl NodeGroup {
    fn new(workload: &str) -> Self {
        Self {
            workload: workload.into(),
            instance_type: default_instance_type(),
            min_size: 1,
            max_size: 2,
            desired_capacity: 1,
            root_volume_gb: default_root_volume(),
            ssm_sessions: false,
        }
    }
}

fn default_instance_type() -> String {
    "m7g.large".into()
}
fn default_root_volume() -> u32 {
    30
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}

/// The eight ECS services: the five Temporal services, the UI, Grafana and the ADOT collector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Services {
    /// Temporal history (workflow state, timers, shards).
    pub history: Service,
    /// Temporal matching (task queues).
    pub matching: Service,
    /// Temporal frontend (the gRPC API on 7233).
    pub frontend: Service,
    /// Temporal's internal frontend: the API for the internal worker and temporalctl's
    /// own steps, on internode mTLS and never behind authorization (7236). Reached by
    /// nothing else.
    pub internal_frontend: Service,
    /// Temporal's internal worker (system workflows).
    pub worker: Service,
    /// The Temporal web UI (8080).
    pub ui: Service,
    /// Grafana dashboards (3000).
    pub grafana: Service,
    /// The ADOT collector: scrapes the services' metrics into Prometheus.
    pub adot: Service,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            history: Service::new(512, 1024, "a"),
            matching: Service::new(512, 1024, "b"),
            frontend: Service::new(512, 1024, "b"),
            internal_frontend: Service::new(256, 512, "a"),
            worker: Service::new(512, 1024, "c"),
            ui: Service::new(256, 512, "b").with_image(UI_IMAGE),
            grafana: Service::new(512, 1024, "b").with_image(GRAFANA_IMAGE),
            adot: Service::new(256, 512, "c").with_image(ADOT_IMAGE),
        }
    }
}

impl Services {
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Service)> {
        [
            ("history", &self.history),
            ("matching", &self.matching),
            ("frontend", &self.frontend),
            ("internal_frontend", &self.internal_frontend),
            ("worker", &self.worker),
            ("ui", &self.ui),
            ("grafana", &self.grafana),
            ("adot", &self.adot),
        ]
        .into_iter()
    }

    /// A service by its key (`history`, `frontend`…).
    pub fn get(&self, key: &str) -> Option<&Service> {
        self.iter().find(|(k, _)| *k == key).map(|(_, s)| s)
    }

    /// Whether ECS Exec reaches this service's tasks: `services.<s>.exec`, by default
    /// only the services `connect` forwards to (ui, grafana, frontend).
    pub fn exec(&self, key: &str) -> bool {
        self.get(key).and_then(|s| s.exec).unwrap_or(EXEC_BY_DEFAULT.contains(&key))
    }
}

/// The third-party images, each at an explicit release, never `latest` (docs/security.md,
/// "Pinned images", says where each version comes from); `up` pins each tag to the digest
/// it names at that moment.
pub const UI_IMAGE: &str = "temporalio/ui:2.42.1";
pub const GRAFANA_IMAGE: &str = "grafana/grafana:12.2.1";
pub const ADOT_IMAGE: &str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.45.0";
/// The tag `images build` gives the fork's images by default: the Temporal release the
/// fork is built on (`ServerVersion` in the fork's `common/headers/version_checker.go`).
pub const TEMPORAL_VERSION: &str = "1.29.0";

/// The services whose tasks ECS Exec reaches unless deploy.yaml says otherwise: those
/// `connect` forwards a port to.
pub const EXEC_BY_DEFAULT: &[&str] = &["ui", "grafana", "frontend"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Service {
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// Replicas started by `up`'s scale phase and `scale up` without `--count`.
    #[serde(default = "one")]
    pub count: u32,
    /// Node group (`a`, `b` or `c`) the service is placed on.
    pub node_group: String,
    /// Container image; the Temporal services default to the project's ECR repository.
    #[serde(default)]
    pub image: Option<String>,
    /// Extra environment variables for the main container.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// ECS Exec into this service's tasks (`temporalctl exec`, and `connect`'s port
    /// forwarding): its task role gets the Session Manager channels only when on.
    /// Default: on for ui, grafana and frontend, off for the others.
    #[serde(default)]
    pub exec: Option<bool>,
}

impl Service {
    fn new(cpu: u32, memory: u32, node_group: &str) -> Self {
        Self {
            cpu,
            memory,
            count: 1,
            node_group: node_group.into(),
            image: None,
            environment: BTreeMap::new(),
            exec: None,
        }
    }
    fn with_image(mut self, image: &str) -> Self {
        self.image = Some(image.into());
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Temporal {
    /// Tag of the server and admin-tools images in the project's ECR repositories. Tags
    /// there are immutable: a new build of the fork needs a new version.
    pub version: String,
    /// Fixed when the schema is created: changing it later needs a new cluster.
    pub history_shards: u32,
    /// The namespace `up` registers once the frontend runs.
    pub namespace: Namespace,
    /// Mutual TLS between the Temporal services and to the frontend.
    pub tls: Tls,
    /// Who may call the frontend: JWTs checked against your identity provider's keys, or
    /// no authorization at all, written out (`allow_no_auth: true`). One of the two is
    /// required: there is no silent default.
    pub authorization: Authorization,
    /// Temporal's dynamic configuration, in Temporal's own form: its key (as Temporal
    /// names it, e.g. `matching.numTaskqueueReadPartitions`) to a list of values, each
    /// with the constraints it applies under. A key given here replaces temporalctl's
    /// default for it (`system.enableNexus: false`, docs/runbook.md "Dynamic
    /// configuration"). A change gives the Temporal services new task definitions.
    pub dynamic_config: BTreeMap<String, Vec<DynamicValue>>,
}

/// One value of a dynamic config key and where it applies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct DynamicValue {
    /// A number, boolean, string (durations as `30s`), list or map, as the key takes it.
    pub value: serde_json::Value,
    /// Where the value applies (Temporal's constraint names); none: everywhere.
    #[serde(default, skip_serializing_if = "Constraints::is_empty")]
    pub constraints: Constraints,
}

/// Temporal's constraints (`common/dynamicconfig/file_based_client.go`): a value applies
/// where every one given matches. Temporal refuses to start on any other name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Constraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(rename = "namespaceID", skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(rename = "taskQueueName", skip_serializing_if = "Option::is_none")]
    pub task_queue_name: Option<String>,
    /// `Workflow` or `Activity`.
    #[serde(rename = "taskType", skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// A history task type's name (`Transfer`, `Timer`…).
    #[serde(rename = "historyTaskType", skip_serializing_if = "Option::is_none")]
    pub history_task_type: Option<String>,
    #[serde(rename = "shardID", skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        self == &Constraints::default()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum TaskType {
    Workflow,
    Activity,
}

/// The frontend's authorization (Temporal's `global.authorization`): the default
/// authorizer and the default JWT claim mapper, keys from a JWKS URL. The internal worker
/// and temporalctl's own steps use the internal frontend (internode mTLS, no JWT); users,
/// their workers and the UI present tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Authorization {
    /// Where the frontend fetches the keys that sign your tokens (your identity
    /// provider's JWKS document, https).
    pub jwks_url: Option<String>,
    /// The token claim that carries Temporal permissions (`<namespace>:<role>`,
    /// `temporal-system:admin`). Default `permissions`.
    pub permissions_claim: Option<String>,
    /// When set, tokens must name this audience (`aud`).
    pub audience: Option<String>,
    /// Log in to the UI with your identity provider (OIDC); needed when `jwks_url` is set,
    /// since the UI calls the frontend with each user's token.
    pub ui: Option<UiLogin>,
    /// Run the frontend without authorization: every caller that reaches it (and holds a
    /// client certificate, with `tls.enabled`) may do anything. Only when written here;
    /// `status` says so.
    pub allow_no_auth: bool,
}

/// The UI's OIDC login (the `temporalio/ui` server's `TEMPORAL_AUTH_*` settings).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct UiLogin {
    /// The OIDC issuer (its `/.well-known/openid-configuration` is read by the UI).
    pub issuer_url: String,
    /// The client id your identity provider gave the UI.
    pub client_id: String,
    /// ARN of a Secrets Manager secret holding the client secret (a plain string). The
    /// secret itself is never in deploy.yaml, the state file or the task definition. The
    /// execution role may read it; a secret under a customer-managed KMS key also needs
    /// `kms:Decrypt` for that role, which temporalctl does not grant.
    pub client_secret_arn: String,
    /// Where the identity provider sends the browser back; register it with the client.
    /// Default: the address `temporalctl connect ui` forwards to.
    #[serde(default = "default_ui_callback")]
    pub callback_url: String,
    /// The scopes the UI asks for; `openid` is required.
    #[serde(default = "default_ui_scopes")]
    pub scopes: Vec<String>,
}

/// `connect ui` forwards the UI to this port on the operator's machine.
pub const UI_LOCAL_CALLBACK: &str = "http://localhost:8080/auth/sso/callback";

fn default_ui_callback() -> String {
    UI_LOCAL_CALLBACK.into()
}

fn default_ui_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

impl Authorization {
    /// Whether the frontend checks tokens.
    pub fn enabled(&self) -> bool {
        self.jwks_url.is_some()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Tls {
    /// Mutual TLS on every Temporal gRPC port (between the services, and from the UI, the
    /// one-off steps and `connect` to the frontend), with certificates from the deployment's
    /// own authority in Secrets Manager. Switching it on a running cluster needs every
    /// service stopped first (`scale down`): old and new members cannot talk.
    pub enabled: bool,
    /// Issue the certificates from your AWS Private CA instead of an authority of the
    /// deployment's own: its ARN (`arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>`).
    /// A general-purpose CA, active, whose policy lets you issue with the end-entity,
    /// server-auth and client-auth templates. Changing it on a running cluster needs the
    /// services stopped first, as switching TLS does.
    pub private_ca_arn: Option<String>,
}

impl Default for Tls {
    fn default() -> Self {
        Self { enabled: true, private_ca_arn: None }
    }
}

impl Default for Temporal {
    fn default() -> Self {
        Self {
            version: TEMPORAL_VERSION.into(),
            history_shards: 4,
            namespace: Namespace::default(),
            tls: Tls::default(),
            authorization: Authorization::default(),
            dynamic_config: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Namespace {
    /// Namespace name: letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    pub name: String,
    /// How long closed workflows are kept, in days.
    pub retention_days: u32,
}

impl Default for Namespace {
    fn default() -> Self {
        Self { name: "default".into(), retention_days: 3 }
    }
}

/// Where the deployment's state lives (docs/state.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct State {
    /// `local` (the `--state-dir` directory, one machine) or `s3` (a bucket, with a lock
    /// object that lets one run at a time change the deployment).
    pub backend: StateBackend,
    /// The bucket, with `backend: s3`; `temporalctl state init` makes it.
    pub bucket: Option<String>,
    /// The state object's key; `<project>/state.json` when unset. The lock is `<key>.lock`.
    pub key: Option<String>,
    /// The bucket's region; the deployment's when unset.
    pub region: Option<String>,
    /// A KMS key (id, alias or ARN) the bucket encrypts with; S3's own keys when unset.
    pub kms_key: Option<String>,
    /// Days S3 keeps a state version after a newer one replaced it.
    pub keep_versions_days: u32,
}

impl Default for State {
    fn default() -> Self {
        Self {
            backend: StateBackend::Local,
            bucket: None,
            key: None,
            region: None,
            kms_key: None,
            keep_versions_days: 90,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    Local,
    S3,
}

impl State {
    /// The state object's key.
    pub fn object_key(&self, project: &str) -> String {
        self.key.clone().unwrap_or_else(|| format!("{project}/state.json"))
    }
}

/// The address workers connect to: an internal Network Load Balancer in the private
/// subnets, TCP 7233 passed through to the frontend tasks (TLS and mTLS end to end when
/// `temporal.tls` is on).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Frontend {
    /// `load_balancer` (the default) gives workers `<balancer's DNS name>:7233`; `none`
    /// leaves the frontend reachable only inside the Service Connect namespace, and the
    /// next `up` removes a balancer made before.
    pub endpoint: FrontendEndpoint,
    /// Who may connect to the balancer: IPv4 CIDRs (a peered VPC, a VPN range) or
    /// security group ids (`sg-…`, workers in this VPC). Empty means the VPC's CIDR.
    pub clients: Vec<String>,
}

/// An Application Load Balancer, internal in the private subnets unless `scheme` says
/// otherwise: HTTPS on 443 with a certificate (yours, or one temporalctl requests) and a
/// current TLS policy, HTTP on 80 redirecting to it, a request sent to the UI or Grafana
/// by its host name (any other host: 404), after signing in with `login`. Its security
/// group admits `allowed_cidrs` only; the UI's and Grafana's admit only the balancer.
/// Both host names point at the balancer: temporalctl writes the aliases with
/// `hosted_zone_id`, else `temporalctl status` prints the name to point them at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Ingress {
    /// The Temporal UI's host name, e.g. `temporal.example.com`.
    pub ui_host: String,
    /// Grafana's host name, e.g. `grafana.example.com`.
    pub grafana_host: String,
    /// An issued ACM certificate in the deployment's region covering both host names
    /// (yours: `down` never deletes it). Absent, temporalctl requests one for both names
    /// with DNS validation, prints the validation records and waits until ACM issues it
    /// (`timeouts.certificate`); `down` deletes that one.
    #[serde(default)]
    pub certificate_arn: Option<String>,
    /// A Route 53 hosted zone of yours holding both host names (`Z…`): temporalctl writes
    /// an alias record for each name to the balancer and, for a certificate it requests,
    /// the validation records. It changes only records pointing at its balancer and
    /// validation records, never the zone.
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    /// Who may connect: IPv4 CIDRs (your offices, VPN, a peered VPC). Empty means the
    /// VPC's CIDR (`internal` only: an `internet-facing` balancer names them, `0.0.0.0/0`
    /// for anyone).
    #[serde(default)]
    pub allowed_cidrs: Vec<String>,
    /// `internal` (the default): the balancer has private addresses only, reachable from
    /// the VPC and what is routed into it. `internet-facing`: public addresses in public
    /// subnets of two zones; refused without `login`.
    #[serde(default)]
    pub scheme: IngressScheme,
    /// Single sign-on before the UI and Grafana: the balancer sends browsers to your OpenID
    /// Connect provider and lets through only people it signed in (ELBv2
    /// `authenticate-oidc`).
    #[serde(default)]
    pub login: Option<Login>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IngressScheme {
    #[default]
    Internal,
    InternetFacing,
}

impl IngressScheme {
    /// As ELBv2 names it.
    pub fn as_str(self) -> &'static str {
        match self {
            IngressScheme::Internal => "internal",
            IngressScheme::InternetFacing => "internet-facing",
        }
    }
}

/// An OpenID Connect provider's endpoints and this deployment's client there
/// (docs/ingress.md has an example with Okta). Register
/// `https://<ui_host>/oauth2/idpresponse` and `https://<grafana_host>/oauth2/idpresponse`
/// as the client's redirect URIs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Login {
    /// The provider's issuer, `https://…` (its `/.well-known/openid-configuration` says it).
    pub issuer: String,
    /// Where browsers sign in, `https://…`.
    pub authorization_endpoint: String,
    /// Where the balancer trades the code for tokens, `https://…`.
    pub token_endpoint: String,
    /// Where the balancer reads the person's claims, `https://…`.
    pub user_info_endpoint: String,
    /// The client (application) id the provider gave this deployment.
    pub client_id: String,
    /// The Secrets Manager secret (name or ARN, in this region) holding the client secret:
    /// temporalctl reads it when it writes the rules and keeps only its version id. The
    /// secret never belongs in deploy.yaml.
    pub client_secret_id: String,
    /// When the secret is a JSON object, the key holding the client secret (e.g.
    /// `client_secret`); absent, the whole secret string is the client secret.
    #[serde(default)]
    pub client_secret_key: Option<String>,
    /// The scopes asked for, space-separated.
    #[serde(default = "Login::default_scope")]
    pub scope: String,
    /// How long a sign-in lasts before the provider is asked again. AWS's default is 7
    /// days; a working day is the safer default.
    #[serde(default = "Login::default_session_timeout", with = "duration_str")]
    #[schemars(with = "String")]
    pub session_timeout: Duration,
}

/// Empty endpoints and client: a placeholder to fill in, never a usable login.
impl Default for Login {
    fn default() -> Self {
        Login {
            issuer: String::new(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            user_info_endpoint: String::new(),
            client_id: String::new(),
            client_secret_id: String::new(),
            client_secret_key: None,
            scope: Login::default_scope(),
            session_timeout: Login::default_session_timeout(),
        }
    }
}

impl Login {
    fn default_scope() -> String {
        "openid email".into()
    }

    fn default_session_timeout() -> Duration {
        Duration::from_secs(12 * 3600)
    }
}

impl Default for Frontend {
    fn default() -> Self {
        Self { endpoint: FrontendEndpoint::LoadBalancer, clients: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrontendEndpoint {
    LoadBalancer,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Dsql {
    /// AWS refuses to delete the cluster while on; `down --destroy-data` turns it off first.
    pub deletion_protection: bool,
    /// The schema directory `temporal-dsql-tool` sets up.
    pub schema_name: String,
    /// Schema version; raising it makes the next `up` run `update-schema`.
    pub schema_version: String,
    /// Refuse regions missing from the shipped list of DSQL regions; turn off when AWS
    /// has opened DSQL in a region since the list was made.
    pub region_check: bool,
    /// Each Temporal task's connection pool to DSQL.
    pub pool: DsqlPool,
    /// Share DSQL's 100 new connections a second across every task through a DynamoDB
    /// table (the DSQL fork's cluster-wide limiter), instead of a fixed share per task:
    /// for deployments whose starts would outrun the burst. The table is coordination
    /// state, removed by `down`.
    pub rate_coordination: bool,
    /// Use a DSQL cluster of yours, by identifier, instead of creating one: temporalctl
    /// reads its endpoint and ARN, grants the task roles, runs the schema steps in it and
    /// records them as `temporalctl:step/*` tags on it; it never changes the cluster's
    /// settings or deletes it (`down --destroy-data` leaves it and says so).
    /// `deletion_protection` does not apply to it.
    pub existing_cluster: Option<String>,
}

/// A Temporal task's DSQL connection pool. An IAM auth token is checked only when a
/// connection opens, and DSQL ends every session after one hour (AWS, "Cluster quotas and
/// database limits in Amazon Aurora DSQL"): connections are recycled well inside that.
/// Idle equals max by default: a pool that closes idle connections reopens them under
/// load, and each open counts against DSQL's 100 new connections per second per cluster
/// (the reference deployment keeps idle = max for the same reason).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct DsqlPool {
    /// Open connections per task at most.
    pub max_conns: u32,
    /// Idle connections kept per task; below max_conns, connections churn under load.
    pub max_idle_conns: u32,
    /// How long one connect may take before it fails.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// Age after which a connection is closed and replaced; under DSQL's 1-hour session limit.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub max_conn_lifetime: Duration,
}

impl Default for DsqlPool {
    fn default() -> Self {
        Self {
            max_conns: 20,
            max_idle_conns: 20,
            connect_timeout: Duration::from_secs(30),
            max_conn_lifetime: Duration::from_secs(5 * 60),
        }
    }
}

impl Default for Dsql {
    fn default() -> Self {
        Self {
            deletion_protection: true,
            schema_name: "dsql/v12/temporal".into(),
            schema_version: "1.12".into(),
            region_check: true,
            pool: DsqlPool::default(),
            rate_coordination: false,
            existing_cluster: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct OpenSearch {
    /// Domain engine version; changing it is an in-place upgrade AWS runs for an hour or more.
    pub engine_version: String,
    /// Data node instance type.
    pub instance_type: String,
    /// Data nodes.
    pub instance_count: u32,
    /// gp3 storage per data node, in GiB.
    pub volume_size_gb: u32,
    /// Availability zones the data nodes spread over: 1 (development), 2 or 3. With 2 or
    /// 3, zone awareness is on, the domain has a private subnet in each zone, and
    /// `instance_count` must be a multiple of it (AWS spreads nodes evenly).
    pub zones: u8,
    /// Dedicated master nodes, for a domain of many data nodes; none by default.
    pub dedicated_master: Option<DedicatedMaster>,
    /// gp3 IOPS per data node (3000–16000); 3000, the baseline gp3 includes, when unset.
    pub iops: Option<u32>,
    /// gp3 throughput per data node in MiB/s (125–1000); 125, the baseline gp3 includes,
    /// when unset.
    pub throughput_mibps: Option<u32>,
    /// Publish the domain's error logs and search/index slow logs to CloudWatch log
    /// groups of the project (kept with the domain by `down`). Slow logs stay empty until
    /// an index sets its slow-log thresholds.
    pub publish_logs: bool,
    /// The visibility index Temporal writes to: lowercase letters, digits, `.`, `_` and
    /// `-`, starting with a letter or digit (OpenSearch's index name rules, narrowed).
    pub visibility_index: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct DedicatedMaster {
    /// Master node instance type (ends in .search).
    pub instance_type: String,
    /// 3 or 5: an odd number, so a quorum survives one (or two) lost.
    #[serde(default = "three")]
    pub count: u32,
}

fn three() -> u32 {
    3
}

impl Default for OpenSearch {
    fn default() -> Self {
        Self {
            engine_version: "OpenSearch_2.11".into(),
            instance_type: "t3.small.search".into(),
            instance_count: 1,
            volume_size_gb: 10,
            zones: 1,
            dedicated_master: None,
            iops: None,
            throughput_mibps: None,
            publish_logs: true,
            visibility_index: "temporal_visibility_v1_dev".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
#[serde(default)]
pub struct Prometheus {
    /// Workspace alias; defaults to `<project>-metrics`.
    pub alias: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Grafana {
    /// Grafana's admin user; the password is generated into Secrets Manager, never shown.
    pub admin_user: String,
}

impl Default for Grafana {
    fn default() -> Self {
        Self { admin_user: "admin".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Logs {
    /// CloudWatch Logs retention; must be one of the values CloudWatch accepts.
    pub retention_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Self { retention_days: 7 }
    }
}

/// Deadlines for the waits AWS imposes (slow tails from `aws-timings.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default)]
pub struct Timeouts {
    /// A NAT gateway becoming available (1-5 min usually) or deleted.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub nat_gateway: Duration,
    /// An interface VPC endpoint becoming available (2-5 min usually).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub vpc_endpoint: Duration,
    /// OpenSearch domains take 15-20 minutes, sometimes over an hour.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub opensearch: Duration,
    /// An OpenSearch configuration change (zones, instance type or count, volume, engine
    /// upgrade): a blue/green deployment that copies every shard to new nodes; tens of
    /// minutes for a small index, hours for a large one.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub opensearch_change: Duration,
    /// A DSQL cluster becoming ACTIVE (about a minute usually).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub dsql: Duration,
    /// The frontend's load balancer becoming active (a few minutes usually; public
    /// reports of Terraform's 10-minute wait running out).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub load_balancer: Duration,
    /// A certificate temporalctl requested becoming ISSUED: minutes once its validation
    /// records resolve, longer when you create them by hand (Terraform waits 75 minutes).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub certificate: Duration,
    /// How long a delete keeps retrying `DependencyViolation` (lingering ENIs).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub delete_dependencies: Duration,
    /// Node group instances booting and registering with the cluster (2-5 min usually).
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub container_instances: Duration,
    /// A one-off task (schema, namespace) from RunTask to STOPPED, image pull included.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub one_off_task: Duration,
    /// A scale wave: running = desired and the rollout completed.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub service_stable: Duration,
    /// Default for any other wait.
    #[serde(with = "duration_str")]
    #[schemars(with = "String")]
    pub default: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            nat_gateway: Duration::from_secs(15 * 60),
            vpc_endpoint: Duration::from_secs(15 * 60),
            opensearch: Duration::from_secs(90 * 60),
            opensearch_change: Duration::from_secs(3 * 60 * 60),
            dsql: Duration::from_secs(10 * 60),
            load_balancer: Duration::from_secs(20 * 60),
            certificate: Duration::from_secs(75 * 60),
            delete_dependencies: Duration::from_secs(30 * 60),
            container_instances: Duration::from_secs(10 * 60),
            one_off_task: Duration::from_secs(15 * 60),
            service_stable: Duration::from_secs(20 * 60),
            default: Duration::from_secs(10 * 60),
        }
    }
}

/// Durations written the human way: `90s`, `15m`, `1h 30m`.
mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map_err(|e| D::Error::custom(format!("`{text}` is not a duration ({e}); write e.g. 90s, 15m or 1h")))
    }
}
