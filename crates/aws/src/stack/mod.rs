//! The stack: which nodes exist and which depend on which, built from deploy.yaml, one
//! file per area. Node ids are in `ids`, the names resources carry in AWS in `names`.

mod balancer;
mod compute;
mod data_stores;
mod firewalls;
mod identities;
pub mod ids;
pub mod ingress;
pub mod names;
mod network;
mod platform;
mod workloads;

use temporalctl_config::{Deploy, capacity};
use temporalctl_engine::{Graph, GraphBuilder, GraphError};

pub use ids::*;
pub use names::*;

use crate::Aws;
use crate::platform::images::Pins;

pub use network::endpoint_service;

/// What the graph's desired states depend on beyond deploy.yaml, read from AWS (or the
/// state file) before it is built. Empty for the offline verbs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The images' digests: a task definition whose image has one names it by digest,
    /// any other by its tag.
    pub pins: Pins,
    /// The interface endpoint services (full names) that take an endpoint policy.
    pub endpoint_policies: std::collections::BTreeSet<String>,
}

/// The same deployment with every optional part turned on: its graph holds every node
/// deploy.yaml can switch off, for `up` to delete those it no longer asks for.
pub fn with_every_option(d: &Deploy) -> Deploy {
    let mut all = d.clone();
    all.frontend.endpoint = temporalctl_config::FrontendEndpoint::LoadBalancer;
    all.dsql.rate_coordination = true;
    all.opensearch.publish_logs = true;
    all.network.s3_gateway_endpoint = Some(true);
    // Its nodes are found by name and recorded ARN, whatever the hosts and certificate;
    // internet-facing with login, so that its second public subnet and the login secret
    // are among them (when the network still has room for that subnet).
    let ingress = all.ingress.get_or_insert_with(|| temporalctl_config::Ingress {
        ui_host: "ui.invalid".into(),
        grafana_host: "grafana.invalid".into(),
        certificate_arn: None,
        hosted_zone_id: None,
        allowed_cidrs: Vec::new(),
        scheme: Default::default(),
        login: None,
    });
    ingress.login.get_or_insert_with(|| temporalctl_config::Login {
        client_secret_id: "login-secret.invalid".into(),
        ..Default::default()
    });
    // A certificate of ours and a zone, so that the requested certificate's and the
    // records' nodes are among them.
    ingress.certificate_arn = None;
    ingress.hosted_zone_id.get_or_insert_with(|| "Z0INVALID".into());
    let as_given = ingress.clone();
    ingress.scheme = temporalctl_config::IngressScheme::InternetFacing;
    if ingress.allowed_cidrs.is_empty() {
        ingress.allowed_cidrs = vec![all.network.vpc_cidr.clone()];
    }
    if all.network.existing.is_some() || temporalctl_config::network_layout(&all).is_err() {
        all.ingress = Some(as_given);
    }
    all
}

/// Build the whole graph for a validated deployment. `counts` are the services' desired
/// counts (deploy.yaml's, or what `scale` recorded): they choose how each service rolls.
/// `facts` are what AWS said before the graph was built.
pub fn build(d: &Deploy, aws: &Aws, counts: &capacity::Counts, facts: &Facts) -> Result<Graph, GraphError> {
    let mut g = GraphBuilder::default();
    network::network(&mut g, d, aws, &facts.endpoint_policies);
    platform::platform(&mut g, d, aws);
    identities::identities(&mut g, d, aws);
    firewalls::firewalls(&mut g, d, aws);
    balancer::balancer(&mut g, d, aws);
    ingress::ingress(&mut g, d, aws);
    data_stores::data_stores(&mut g, d, aws);
    workloads::workloads(&mut g, d, aws, &facts.pins);
    compute::node_groups(&mut g, d, aws);
    workloads::services(&mut g, d, aws, counts);
    g.build()
}

/// The kinds `verify` reads to prove a flow: the network and its firewalls.
const NETWORK_KINDS: &[&str] = &[
    "vpc",
    "existing-vpc",
    "subnet",
    "existing-subnet",
    "internet-gateway",
    "elastic-ip",
    "nat-gateway",
    "route-table",
    "vpc-endpoint",
    "security-group",
    "security-group-rules",
];

/// What a one-off step against `store` (DSQL's schema, OpenSearch's index) needs ready
/// before its task can run and reach the store: the store; the admin tools' task
/// definition and what it names (roles, log group, image repository); the capacity that
/// places the task (`ONE_OFF_PLACEMENT`'s node group, its provider on the cluster); and
/// the whole network, which `verify` proves before the task starts (groups, rules,
/// routes, NAT gateway, endpoints). `up` starts the step the moment these are ready,
/// while the rest of the graph is still being built.
pub fn step_needs(graph: &Graph, d: &Deploy, store: &str) -> Vec<String> {
    let group = d.services.get(crate::service_kinds::ONE_OFF_PLACEMENT).map(|s| s.node_group.as_str()).unwrap_or("");
    let runs_it = [
        store.to_string(),
        task_definition(crate::service_kinds::ADMIN_TOOLS.key),
        auto_scaling_group(group),
        capacity_provider(group),
        CLUSTER_CAPACITY.to_string(),
    ];
    let network = (0..graph.len()).filter(|i| NETWORK_KINDS.contains(&graph.node(*i).resource.kind()));
    let mut needs: Vec<usize> =
        graph.with_dependencies(&runs_it.iter().map(String::as_str).collect::<Vec<_>>()).into_iter().collect();
    for i in network {
        needs.extend(graph.with_dependencies(&[graph.node(i).id.as_str()]));
    }
    needs.sort_unstable();
    needs.dedup();
    needs.into_iter().map(|i| graph.node(i).id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_stack() -> (Deploy, Graph) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.yaml");
        let d = temporalctl_config::load(&path).expect("the repository's deploy.yaml");
        let aws = Aws::offline(&d.region);
        let g = build(&d, &aws, &capacity::counts_from_config(&d), &Facts::default()).expect("the graph");
        (d, g)
    }

    /// The schema step waits for nothing that waits for OpenSearch, and for everything
    /// its task uses (`Operator::start_task`) and `verify` reads.
    #[test]
    fn the_schema_step_needs_what_its_task_uses_and_nothing_behind_opensearch() {
        let (d, g) = repo_stack();
        let needs = step_needs(&g, &d, DSQL);
        let behind_opensearch: Vec<&str> = (0..g.len())
            .filter(|i| g.with_dependencies(&[g.node(*i).id.as_str()]).contains(&g.find(OPENSEARCH).unwrap()))
            .map(|i| g.node(i).id.as_str())
            .collect();
        assert!(behind_opensearch.contains(&OPENSEARCH) && behind_opensearch.len() > 5, "{behind_opensearch:?}");
        for id in &behind_opensearch {
            assert!(!needs.iter().any(|n| n == id), "the schema step would wait for {id}");
        }
        let group = &d.services.get(crate::service_kinds::ONE_OFF_PLACEMENT).unwrap().node_group;
        let mut used = vec![
            DSQL.to_string(),
            task_definition(crate::service_kinds::ADMIN_TOOLS.key),
            task_role(crate::service_kinds::ADMIN_TOOLS.key),
            log_group(crate::service_kinds::ADMIN_TOOLS.key),
            ADMIN_TOOLS_REPOSITORY.to_string(),
            service_sg(crate::service_kinds::ONE_OFF_IDENTITY),
            INSTANCES_SG.to_string(),
            capacity_provider(group),
            auto_scaling_group(group),
            CLUSTER_CAPACITY.to_string(),
            NAT_GATEWAY.to_string(),
            PRIVATE_ROUTES.to_string(),
            ENDPOINTS_SG.to_string(),
            OPENSEARCH_SG.to_string(),
        ];
        used.extend(private_subnets(&d));
        for i in 0..g.len() {
            if g.node(i).resource.kind() == "vpc-endpoint" || g.node(i).resource.kind() == "security-group-rules" {
                used.push(g.node(i).id.clone());
            }
        }
        for id in &used {
            assert!(g.find(id).is_some(), "{id} is not in the graph");
            assert!(needs.contains(id), "the schema step does not wait for {id}");
        }
        let index = step_needs(&g, &d, OPENSEARCH);
        assert!(index.iter().any(|n| n == OPENSEARCH));
    }
}
