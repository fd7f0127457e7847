//! ECS services, as the `CreateService` document (camelCase, what is sent) minus the
//! task definition and desired count: capacity provider of the service's node group,
//! placement on its `workload` attribute, ECS Exec, circuit breaker with rollback, and
//! Service Connect.
//!
//! Service Connect, per seed 002: history, matching and frontend are discoverable as
//! `temporal-<name>` on their gRPC port; the internal frontend, worker and ui are clients
//! only. Grafana and the ADOT collector do not take part: ADOT scrapes every task at its
//! own address (documents::adot).

use serde::Serialize;

use crate::service_kinds::{Connect, ServiceKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub service_name: String,
    pub cluster: String,
    pub capacity_provider_strategy: Vec<Strategy>,
    pub placement_constraints: Vec<Constraint>,
    pub network_configuration: Network,
    pub enable_execute_command: bool,
    pub deployment_configuration: Deployment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_connect_configuration: Option<ServiceConnect>,
    /// The frontend's tasks in the balancer's target group (`frontend.endpoint`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<LoadBalancerTarget>,
    /// Only with a balancer: ECS uses it for load balancer (and container) health checks,
    /// and the frontend has no container health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    pub propagate_tags: String,
    pub enable_ecs_managed_tags: bool,
}

/// A container port registered in a target group, as `CreateService` takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerTarget {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    pub capacity_provider: String,
    pub weight: i32,
    pub base: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Constraint {
    #[serde(rename = "type")]
    pub kind: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub minimum_healthy_percent: i32,
    pub maximum_percent: i32,
    pub deployment_circuit_breaker: CircuitBreaker,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnect {
    pub enabled: bool,
    pub namespace: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ConnectService>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectService {
    pub port_name: String,
    pub discovery_name: String,
    pub client_aliases: Vec<ClientAlias>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientAlias {
    pub port: i32,
    pub dns_name: String,
}

pub struct Inputs<'a> {
    pub project: &'a str,
    pub cluster: &'a str,
    pub capacity_provider: &'a str,
    pub workload: &'a str,
    pub subnets: Vec<String>,
    /// The service's own group, then the instances' group (seed 002).
    pub security_groups: Vec<String>,
    pub namespace_arn: &'a str,
    /// (minimumHealthyPercent, maximumPercent), chosen per node group so a rolling update
    /// fits (`temporalctl_config::capacity::rollout_percents`).
    pub rollout: (i32, i32),
    /// ECS Exec into its tasks (`services.<s>.exec`).
    pub exec: bool,
    /// The balancer's target group its tasks join (the frontend's, `frontend.endpoint`).
    pub target_group: Option<&'a str>,
}

pub fn service_name(project: &str, kind: &ServiceKind) -> String {
    format!("{project}-{}", kind.container)
}

fn published(port_name: &str, discovery_name: String, port: i32) -> ConnectService {
    ConnectService {
        port_name: port_name.into(),
        client_aliases: vec![ClientAlias { port, dns_name: discovery_name.clone() }],
        discovery_name,
    }
}

fn service_connect(kind: &ServiceKind, namespace: &str) -> Option<ServiceConnect> {
    if kind.connect == Connect::None {
        return None;
    }
    let mut services = Vec::new();
    if let (Connect::ClientServer, Some(port)) = (kind.connect, kind.port("grpc")) {
        services.push(published("grpc", kind.discovery_name(), port));
    }
    Some(ServiceConnect { enabled: true, namespace: namespace.into(), services })
}

/// How a service rolls: the percents of its node group's choice, always with the circuit
/// breaker and rollback.
pub fn deployment((minimum_healthy_percent, maximum_percent): (i32, i32)) -> Deployment {
    Deployment {
        minimum_healthy_percent,
        maximum_percent,
        deployment_circuit_breaker: CircuitBreaker { enable: true, rollback: true },
    }
}

/// The service's port in the target group, by the container that serves it: the
/// frontend's gRPC, the UI's and Grafana's HTTP.
fn balanced(kind: &ServiceKind, target_group: Option<&str>) -> Vec<LoadBalancerTarget> {
    let (Some(arn), Some(port)) = (target_group, kind.port("grpc").or(kind.port("http"))) else { return Vec::new() };
    vec![LoadBalancerTarget {
        target_group_arn: arn.into(),
        container_name: kind.container.into(),
        container_port: port,
    }]
}

pub fn render(kind: &ServiceKind, i: &Inputs<'_>) -> Service {
    Service {
        service_name: service_name(i.project, kind),
        cluster: i.cluster.into(),
        capacity_provider_strategy: vec![Strategy {
            capacity_provider: i.capacity_provider.into(),
            weight: 1,
            base: 0,
        }],
        placement_constraints: vec![Constraint {
            kind: "memberOf".into(),
            expression: format!("attribute:workload == {}", i.workload),
        }],
        network_configuration: Network { subnets: i.subnets.clone(), security_groups: i.security_groups.clone() },
        enable_execute_command: i.exec,
        deployment_configuration: deployment(i.rollout),
        service_connect_configuration: service_connect(kind, i.namespace_arn),
        load_balancers: balanced(kind, i.target_group),
        health_check_grace_period_seconds: i
            .target_group
            .map(|_| crate::documents::balancer::HEALTH_CHECK_GRACE_SECONDS),
        propagate_tags: "SERVICE".into(),
        enable_ecs_managed_tags: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_kinds::{SERVICES, service};

    /// Seed 002's placement: history on A, worker and ADOT on C, the rest on B.
    fn inputs(kind: &ServiceKind) -> Inputs<'static> {
        let (capacity_provider, workload) = match kind.key {
            "history" | "internal_frontend" => ("demo-node-a", "history"),
            "worker" | "adot" => ("demo-node-c", "worker"),
            _ => ("demo-node-b", "frontend"),
        };
        Inputs {
            project: "demo",
            cluster: "demo-cluster",
            capacity_provider,
            workload,
            subnets: vec!["subnet-0aaa".into(), "subnet-0bbb".into()],
            security_groups: vec!["sg-0service".into(), "sg-0instances".into()],
            namespace_arn: "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-abc",
            rollout: if kind.key == "frontend" { (0, 100) } else { (100, 200) },
            exec: temporalctl_config::EXEC_BY_DEFAULT.contains(&kind.key),
            target_group: (kind.key == "frontend").then_some(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-frontend/0123456789abcdef",
            ),
        }
    }

    #[test]
    fn snapshots_of_every_service() {
        for kind in SERVICES {
            insta::assert_json_snapshot!(format!("service-{}", kind.key), render(kind, &inputs(kind)));
        }
    }

    #[test]
    fn service_connect_roles_follow_seed_002() {
        let names = |key: &str| -> Option<Vec<String>> {
            service_connect(service(key), "ns").map(|sc| {
                sc.services.iter().map(|s| format!("{}:{}", s.discovery_name, s.client_aliases[0].port)).collect()
            })
        };
        assert_eq!(names("history").unwrap(), ["temporal-history:7234"]);
        assert_eq!(names("matching").unwrap(), ["temporal-matching:7235"]);
        assert_eq!(names("frontend").unwrap(), ["temporal-frontend:7233"]);
        for client in ["internal_frontend", "worker", "ui"] {
            assert!(names(client).unwrap().is_empty(), "{client} is a client only");
        }
        assert_eq!(names("grafana"), None);
        assert_eq!(names("adot"), None, "it scrapes task addresses, not names");
    }
}
