//! What runs: a task definition per service (and one for the one-off steps), and the
//! services on their node groups.

use temporalctl_config::{Deploy, FrontendEndpoint, capacity};
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::ecs::service::Service;
use crate::ecs::task_definition::{Sources as TaskSources, TaskDefinition};
use crate::platform::images::{self, Pins};
use crate::service_kinds::{ADMIN_TOOLS, ADMIN_TOOLS_SIZE, SERVICES, ServiceKind};

/// A task definition per service, registered from the rendered documents, and one for
/// the one-off steps' admin tools.
pub(super) fn workloads(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, pins: &Pins) {
    for (kind, service) in crate::service_kinds::configured(d) {
        let temporal = kind.is_temporal();
        let secret = match kind.key {
            "grafana" => Some(GRAFANA_SECRET.to_string()),
            "adot" => Some(ADOT_PARAMETER.to_string()),
            _ => None,
        };
        let sources = TaskSources {
            execution_role: EXECUTION_ROLE.into(),
            task_role: task_role(kind.key),
            log_group: log_group(kind.key),
            secret,
            prometheus: (kind.key == "grafana").then(|| WORKSPACE.to_string()),
            repository: (temporal && service.image.is_none()).then(|| SERVER_REPOSITORY.to_string()),
            dsql: temporal.then(|| DSQL.to_string()),
            opensearch: temporal.then(|| OPENSEARCH.to_string()),
            tls: (d.temporal.tls.enabled && (temporal || kind.key == "ui")).then(|| TLS_CERTIFICATES.to_string()),
            rate_table: (temporal && d.dsql.rate_coordination).then(|| RATE_TABLE.to_string()),
        };
        let shape = (service.cpu, service.memory, service.image.clone(), service.environment.clone());
        add_task_definition(g, (d, aws, pins), kind, shape, sources);
    }
    let sources = TaskSources {
        execution_role: EXECUTION_ROLE.into(),
        task_role: task_role(ADMIN_TOOLS.key),
        log_group: log_group(ADMIN_TOOLS.key),
        secret: None,
        prometheus: None,
        repository: Some(ADMIN_TOOLS_REPOSITORY.into()),
        dsql: None,
        opensearch: None,
        tls: d.temporal.tls.enabled.then(|| TLS_CERTIFICATES.to_string()),
        rate_table: None,
    };
    let (cpu, memory) = ADMIN_TOOLS_SIZE;
    add_task_definition(g, (d, aws, pins), &ADMIN_TOOLS, (cpu, memory, None, Default::default()), sources);
}

/// (cpu, memory, image, extra environment) of a task definition.
type Shape = (u32, u32, Option<String>, std::collections::BTreeMap<String, String>);

fn add_task_definition(
    g: &mut GraphBuilder,
    (d, aws, pins): (&Deploy, &Aws, &Pins),
    kind: &'static ServiceKind,
    (cpu, memory, image, environment): Shape,
    sources: TaskSources,
) {
    g.add(
        task_definition(kind.key),
        crate::documents::task_definition::family(&d.project, kind),
        TaskDefinition {
            ecs: aws.ecs.clone(),
            kind,
            project: d.project.clone(),
            region: d.region.clone(),
            cpu,
            memory,
            image,
            digest: images::wanted(d, kind).and_then(|n| pins.get(&n.image).cloned()),
            version: d.temporal.version.clone(),
            environment,
            visibility_index: d.opensearch.visibility_index.clone(),
            history_shards: d.temporal.history_shards,
            dsql_pool: d.dsql.pool.clone(),
            authorization: d.temporal.authorization.clone(),
            dynamic_config: crate::documents::temporal::dynamic_config(&d.temporal.dynamic_config),
            dsql_limits: temporalctl_config::dsql_budget::task_limits(d),
            public_url: d
                .ingress
                .as_ref()
                .filter(|_| kind.key == "grafana")
                .map(|i| format!("https://{}", i.grafana_host)),
            sources,
        },
    );
}

/// The eight ECS services, at desired count 0, each on its node group.
pub(super) fn services(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, counts: &capacity::Counts) {
    let p = &d.project;
    let privates = private_subnets(d);
    let family: Vec<String> = SERVICES.iter().map(|kind| crate::documents::service::service_name(p, kind)).collect();
    for (kind, service) in crate::service_kinds::configured(d) {
        let group = service.node_group.as_str();
        let workload = d.node_groups.get(group).map(|ng| ng.workload.clone());
        let security_groups = vec![service_sg(kind.key), INSTANCES_SG.to_string()];
        let (td, cp) = (task_definition(kind.key), capacity_provider(group));
        // A service may only use providers attached to the cluster: CLUSTER_CAPACITY first.
        g.add_after(
            ecs_service(kind.key),
            crate::documents::service::service_name(p, kind),
            &[CLUSTER_CAPACITY, CLUSTER],
            Service {
                ecs: aws.ecs.clone(),
                kind,
                project: p.clone(),
                cluster: names::cluster_name(p),
                workload: workload.unwrap_or_default(),
                task_definition: td.clone(),
                capacity_provider: cp.clone(),
                subnets: privates.clone(),
                security_groups: security_groups.clone(),
                namespace: NAMESPACE.into(),
                balancer: match kind.key {
                    "frontend" if d.frontend.endpoint == FrontendEndpoint::LoadBalancer => {
                        Some((TARGET_GROUP.to_string(), LISTENER.to_string()))
                    }
                    // After the rule that forwards to the group: ECS refuses a group no
                    // listener or rule sends traffic to.
                    "ui" | "grafana" if d.ingress.is_some() => {
                        Some((ingress_target_group(kind.key), ingress_rule(kind.key)))
                    }
                    _ => None,
                },
                rollout: capacity::rollout(d, kind.key, counts),
                exec: d.services.exec(kind.key),
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
    }
}
