//! The names resources carry in AWS, each built here once from the project name.

use temporalctl_config::Deploy;

use crate::service_kinds::ServiceKind;

/// What every log group of the containers and ECS Exec starts with: one listing by it
/// answers their first looks.
pub fn log_prefix(project: &str) -> String {
    format!("/ecs/{project}/")
}

/// The CloudWatch log group a service's (or the one-off tasks') containers write to.
pub fn log_group_name(project: &str, kind: &ServiceKind) -> String {
    format!("{}{}", log_prefix(project), kind.container)
}

/// The DSQL fork's cluster-wide connection limiter's table.
pub fn rate_table_name(project: &str) -> String {
    format!("{project}-dsql-rate-limiter")
}

/// Where ECS Exec sessions are logged.
pub fn exec_log_group(project: &str) -> String {
    format!("{}ecs-exec", log_prefix(project))
}

/// The frontend's balancer and its target group (ELBv2 names: 32 characters at most;
/// a project name has 17).
pub fn frontend_balancer(project: &str) -> String {
    format!("{project}-frontend")
}

/// `ingress`'s Application Load Balancer.
pub fn ingress_balancer(project: &str) -> String {
    format!("{project}-ingress")
}

/// The ingress balancer's target group of a service (`ui`, `grafana`).
pub fn ingress_target_group_name(project: &str, service: &str) -> String {
    format!("{project}-{service}")
}

pub fn cluster_name(project: &str) -> String {
    format!("{project}-cluster")
}

/// `<project>/temporal-server`, `<project>/temporal-admin-tools`.
pub fn repository_name(project: &str, image: &str) -> String {
    format!("{project}/{image}")
}

/// The name of one of our repositories by its graph node (`ecr-repository/server`).
pub fn our_repository(project: &str, node: &str) -> String {
    let (_, image) = super::REPOSITORIES.iter().find(|(n, _)| *n == node).expect("a known repository node");
    repository_name(project, image)
}

/// One of our images: a repository (its name or URI) at the Temporal version the
/// deployment runs, the tag `images build` pushes and the task definitions name.
pub fn our_image(repository: &str, version: &str) -> String {
    format!("{repository}:{version}")
}

pub fn opensearch_domain_name(project: &str) -> String {
    format!("{project}-visibility")
}

/// Where the domain's logs go: the console's own naming, under which people look for
/// them; `kind` is `application-logs`, `search-slow-logs` or `index-slow-logs`.
pub fn opensearch_log_prefix(project: &str) -> String {
    format!("/aws/OpenSearchService/domains/{}/", opensearch_domain_name(project))
}

/// The account-wide CloudWatch Logs resource policy that lets the domain write them.
pub fn opensearch_log_policy(project: &str) -> String {
    format!("{project}-opensearch-logs")
}

pub fn grafana_secret(project: &str) -> String {
    format!("{project}/grafana-admin")
}

pub fn tls_authority_secret(project: &str) -> String {
    format!("{project}/temporal-tls-authority")
}

pub fn tls_certificates_secret(project: &str) -> String {
    format!("{project}/temporal-tls")
}

/// The Prometheus workspace's alias: deploy.yaml's, else `<project>-metrics`.
pub fn workspace_alias(d: &Deploy) -> String {
    d.prometheus.alias.clone().unwrap_or_else(|| format!("{}-metrics", d.project))
}

pub fn adot_parameter(project: &str) -> String {
    format!("/{project}/adot/collector-config")
}

pub fn execution_role(project: &str) -> String {
    format!("{project}-ecs-execution")
}

/// The instances' role, and the instance profile handing it to them.
pub fn instance_role(project: &str) -> String {
    format!("{project}-ecs-instance")
}

/// The instances' role (and profile) of the node groups with host sessions.
pub fn host_sessions_role(project: &str) -> String {
    format!("{project}-ecs-instance-ssm")
}

pub fn task_role_name(project: &str, key: &str) -> String {
    format!("{project}-{key}-task")
}

/// A node group's launch template, Auto Scaling group and capacity provider.
pub fn node_group(project: &str, group: &str) -> String {
    format!("{project}-node-{group}")
}

/// A security group (`<project>-<key>`, e.g. `demo-history`, `demo-vpc-endpoints`).
pub fn security_group(project: &str, key: &str) -> String {
    format!("{project}-{key}")
}
