//! Node ids. They are stable (each is the ownership tag `temporalctl:node` of its
//! resource), so renaming one means a new resource.

use temporalctl_config::{Deploy, IngressScheme, network_layout};

pub const VPC: &str = "vpc";
pub const PUBLIC_SUBNET: &str = "subnet/public";
pub const INTERNET_GATEWAY: &str = "internet-gateway";
pub const NAT_EIP: &str = "elastic-ip/nat";
pub const NAT_GATEWAY: &str = "nat-gateway";
pub const PUBLIC_ROUTES: &str = "route-table/public";
pub const PRIVATE_ROUTES: &str = "route-table/private";
pub const ENDPOINTS_SG: &str = "security-group/vpc-endpoints";

pub fn private_subnet(i: usize) -> String {
    format!("subnet/private-{i}")
}

/// The private subnets' node ids, one per availability zone.
pub fn private_subnets(d: &Deploy) -> Vec<String> {
    let count = match &d.network.existing {
        Some(existing) => existing.private_subnet_ids.len(),
        None => network_layout(d).expect("deploy.yaml was validated").private_subnets.len(),
    };
    (0..count).map(private_subnet).collect()
}

/// An internet-facing ingress balancer's second public subnet, in the network we build.
pub const INGRESS_PUBLIC_SUBNET: &str = "subnet/ingress-public";

/// One of the user's public subnets (`network.existing.public_subnet_ids`).
pub fn existing_public_subnet(i: usize) -> String {
    format!("subnet/public-{i}")
}

/// Where the ingress balancer sits: the private subnets, or public ones in two zones when
/// it is internet-facing (ours: the NAT gateway's and a second; else the user's).
pub fn ingress_subnets(d: &Deploy) -> Vec<String> {
    let internet_facing = d.ingress.as_ref().is_some_and(|i| i.scheme == IngressScheme::InternetFacing);
    match &d.network.existing {
        _ if !internet_facing => private_subnets(d),
        Some(existing) => (0..existing.public_subnet_ids.len()).map(existing_public_subnet).collect(),
        None => vec![PUBLIC_SUBNET.into(), INGRESS_PUBLIC_SUBNET.into()],
    }
}

/// What the instances' way out is made of, when the stack builds it: they wait for the
/// private routes (to the NAT gateway). In a network of the user's the way out exists.
pub fn egress_routes(d: &Deploy) -> Vec<&'static str> {
    if d.network.existing.is_some() { Vec::new() } else { vec![PRIVATE_ROUTES] }
}

pub fn endpoint(suffix: &str) -> String {
    format!("vpc-endpoint/{suffix}")
}

pub const EXEC_LOG_GROUP: &str = "log-group/ecs-exec";
/// The DSQL fork's cluster-wide connection limiter's table (`dsql.rate_coordination`).
pub const RATE_TABLE: &str = "dynamodb-table/dsql-rate-limiter";
pub const GRAFANA_SECRET: &str = "secret/grafana-admin";
/// The deployment's TLS authority (read by temporalctl only) and the certificates it
/// issued to the tasks.
pub const TLS_AUTHORITY: &str = "secret/tls-authority";
pub const TLS_CERTIFICATES: &str = "secret/tls";
pub const WORKSPACE: &str = "prometheus-workspace";
pub const ADOT_PARAMETER: &str = "ssm-parameter/adot-config";
pub const NAMESPACE: &str = "cloudmap-namespace";
pub const CLUSTER: &str = "ecs-cluster";
pub const EXECUTION_ROLE: &str = "iam-role/ecs-execution";
pub const INSTANCE_ROLE: &str = "iam-role/ecs-instance";
pub const INSTANCE_PROFILE: &str = "iam-instance-profile/ecs-instance";
/// The instances' role with Session Manager, for the node groups with `ssm_sessions`.
pub const HOST_SESSIONS_ROLE: &str = "iam-role/ecs-instance-ssm";
pub const HOST_SESSIONS_PROFILE: &str = "iam-instance-profile/ecs-instance-ssm";

pub fn log_group(service: &str) -> String {
    format!("log-group/{service}")
}

pub fn task_role(service: &str) -> String {
    format!("iam-role/task-{service}")
}

pub const ECS_AMI: &str = "ami/ecs-arm64";
pub const CLUSTER_CAPACITY: &str = "ecs-cluster/capacity-providers";
pub const TRUNKING: &str = "ecs-account-setting/awsvpc-trunking";
pub const HOST_SESSIONS_TRUNKING: &str = "ecs-account-setting/awsvpc-trunking-ssm";

pub fn launch_template(group: &str) -> String {
    format!("launch-template/{group}")
}

pub fn auto_scaling_group(group: &str) -> String {
    format!("auto-scaling-group/{group}")
}

pub fn capacity_provider(group: &str) -> String {
    format!("capacity-provider/{group}")
}

pub fn ecs_service(key: &str) -> String {
    format!("ecs-service/{key}")
}

pub fn task_definition(key: &str) -> String {
    format!("task-definition/{key}")
}

/// The project's two ECR repositories (node, image name): the fork's server image and its
/// admin tools, which carry `temporal-dsql-tool` for the schema step.
pub const SERVER_REPOSITORY: &str = "ecr-repository/server";
pub const ADMIN_TOOLS_REPOSITORY: &str = "ecr-repository/admin-tools";
pub const REPOSITORIES: [(&str, &str); 2] =
    [(SERVER_REPOSITORY, "temporal-server"), (ADMIN_TOOLS_REPOSITORY, "temporal-admin-tools")];

pub const DSQL: &str = "dsql-cluster";
pub const OPENSEARCH: &str = "opensearch-domain";
pub const OPENSEARCH_SLR: &str = "service-linked-role/opensearch";
/// What lets OpenSearch write to its log groups.
pub const OPENSEARCH_LOG_POLICY: &str = "log-resource-policy/opensearch";
/// ECS's service-linked role: ECS makes it itself on a cluster's first create, but on a
/// new account that first `CreateCluster` or `CreateCapacityProvider` can fail before it
/// exists ("Unable to assume the service linked role"); made first, the race is gone
/// (AWS, Amazon ECS Developer Guide, "Using service-linked roles for Amazon ECS").
pub const ECS_SLR: &str = "service-linked-role/ecs";

pub fn service_sg(key: &str) -> String {
    format!("security-group/{key}")
}

pub fn security_group_rules(key: &str) -> String {
    format!("security-group-rules/{key}")
}

pub const OPENSEARCH_SG: &str = "security-group/opensearch";
/// The frontend's internal Network Load Balancer (`frontend.endpoint`), its group, its
/// target group and its listener.
pub const BALANCER_SG: &str = "security-group/frontend-balancer";
/// `ingress`: the people's entrance to the UI and Grafana.
pub const INGRESS_SG: &str = "security-group/ingress-balancer";
pub const INGRESS_BALANCER: &str = "load-balancer/ingress";
pub const INGRESS_HTTPS: &str = "listener/ingress-https";
pub const INGRESS_HTTP: &str = "listener/ingress-http";
/// The certificate temporalctl requests when `ingress.certificate_arn` is absent, and the
/// wait until ACM issues it.
pub const INGRESS_CERTIFICATE: &str = "acm-certificate/ingress";
pub const INGRESS_CERTIFICATE_ISSUED: &str = "certificate-validation/ingress";
/// With `ingress.hosted_zone_id`: the requested certificate's validation records and the
/// host names' aliases to the balancer.
pub const INGRESS_VALIDATION_RECORDS: &str = "dns-validation-records/ingress";
pub const INGRESS_ALIASES: &str = "dns-alias-records/ingress";
/// The Secrets Manager secret holding `ingress.login`'s client secret (the user's).
pub const LOGIN_SECRET: &str = "login-secret/ingress";

/// The ingress balancer's target group of a service (`ui`, `grafana`).
pub fn ingress_target_group(service: &str) -> String {
    format!("target-group/{service}")
}

/// The HTTPS listener's rule sending a service's host name to its target group.
pub fn ingress_rule(service: &str) -> String {
    format!("listener-rule/{service}")
}
pub const LOAD_BALANCER: &str = "load-balancer/frontend";
pub const TARGET_GROUP: &str = "target-group/frontend";
pub const LISTENER: &str = "listener/frontend";
pub const INSTANCES_SG: &str = "security-group/instances";
