//! `down`'s sweep: resources carrying this project's tags that the graph does not account
//! for — left by an interrupted run, by an older deploy.yaml (a zone, an endpoint or a node
//! group since removed), or created by hand with our tags. It runs before the graph's own
//! deletes, so nothing of ours is left inside the VPC when the VPC's turn comes.
//!
//! Which kinds: those AWS identifies by a generated id (an interrupted create cannot be
//! found by name, so it can be duplicated), and those whose set depends on deploy.yaml
//! (a node group's Auto Scaling group and capacity provider, the frontend's balancer and
//! target group after `frontend.endpoint: none`). Everything else — roles, log
//! groups, the cluster, services, secrets, data stores — has a name fixed by the project
//! and the service, so the graph itself finds (and deletes) whatever a run left.
//!
//! Only what carries both ownership tags is touched.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::types::Filter as AsgFilter;
use aws_sdk_ecs::types::{CapacityProviderField, CapacityProviderStatus, ClusterField};
use temporalctl_engine::{ErrorClass, Owned, ResourceError, RetryReason, TAG_NODE, TAG_PROJECT, Tags};

use crate::errors::{aws, gone_is_ok};
use crate::network::ec2::filter;
use crate::pages::all_pages;
use crate::tags::from_sdk;
use crate::{Aws, stack};

/// One resource found with our tags and no place in the graph or the state. Only
/// [`find`] makes them, each behind the ownership check ([`Owned`]) that [`remove`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Deletion order: dependents first, the VPC last.
    pub kind: Kind,
    pub id: String,
    /// Its `temporalctl:node` tag.
    pub node: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Takes its listeners with it; its interfaces sit in our subnets and group.
    LoadBalancer,
    /// Free once the balancer's listener is gone.
    TargetGroup,
    /// Leaves the cluster and goes before its group.
    CapacityProvider,
    /// Its instances' ENIs are in our subnets and security groups.
    AutoScalingGroup,
    VpcEndpoint,
    NatGateway,
    LaunchTemplate,
    /// After the addresses: AWS refuses to detach a gateway while public addresses are mapped.
    ElasticIp,
    InternetGateway,
    SecurityGroup,
    Subnet,
    RouteTable,
    Vpc,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::LoadBalancer => "load-balancer",
            Kind::TargetGroup => "target-group",
            Kind::CapacityProvider => "capacity-provider",
            Kind::AutoScalingGroup => "auto-scaling-group",
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::NatGateway => "nat-gateway",
            Kind::LaunchTemplate => "launch-template",
            Kind::ElasticIp => "elastic-ip",
            Kind::InternetGateway => "internet-gateway",
            Kind::SecurityGroup => "security-group",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route-table",
            Kind::Vpc => "vpc",
        }
    }
}

/// Our tagged resources (of the kinds above) that are neither graph nodes nor the ids the
/// state records for them. `recorded`: node → id from the state file.
pub async fn find(
    aws_: &Aws,
    project: &str,
    graph_nodes: &BTreeSet<String>,
    recorded: &BTreeMap<String, String>,
) -> Result<Vec<Owned<Leftover>>, ResourceError> {
    let ec2 = &aws_.ec2;
    let ours = || filter(&format!("tag:{TAG_PROJECT}"), project);
    let mut found: Vec<(Kind, String, Tags)> = Vec::new();
    found.extend(node_groups(aws_, project).await?);
    found.extend(balancer(&aws_.elb, project).await?);
    for e in all_pages!(ec2.describe_vpc_endpoints().filters(ours()), vpc_endpoints, "DescribeVpcEndpoints")
        .iter()
        .filter(|e| e.state().map(|s| s.as_str()) != Some("deleted"))
    {
        found.push((Kind::VpcEndpoint, e.vpc_endpoint_id().unwrap_or_default().into(), from_sdk(e.tags())));
    }
    let nat_gateways = all_pages!(ec2.describe_nat_gateways().filter(ours()), nat_gateways, "DescribeNatGateways");
    for n in nat_gateways.iter().filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting"))) {
        found.push((Kind::NatGateway, n.nat_gateway_id().unwrap_or_default().into(), from_sdk(n.tags())));
    }
    for t in all_pages!(ec2.describe_launch_templates().filters(ours()), launch_templates, "DescribeLaunchTemplates") {
        found.push((Kind::LaunchTemplate, t.launch_template_id().unwrap_or_default().into(), from_sdk(t.tags())));
    }
    let out = ec2.describe_addresses().filters(ours()).send().await.map_err(aws("DescribeAddresses"))?;
    for a in out.addresses() {
        found.push((Kind::ElasticIp, a.allocation_id().unwrap_or_default().into(), from_sdk(a.tags())));
    }
    for g in all_pages!(ec2.describe_internet_gateways().filters(ours()), internet_gateways, "DescribeInternetGateways")
    {
        found.push((Kind::InternetGateway, g.internet_gateway_id().unwrap_or_default().into(), from_sdk(g.tags())));
    }
    for g in all_pages!(ec2.describe_security_groups().filters(ours()), security_groups, "DescribeSecurityGroups") {
        found.push((Kind::SecurityGroup, g.group_id().unwrap_or_default().into(), from_sdk(g.tags())));
    }
    for s in all_pages!(ec2.describe_subnets().filters(ours()), subnets, "DescribeSubnets") {
        found.push((Kind::Subnet, s.subnet_id().unwrap_or_default().into(), from_sdk(s.tags())));
    }
    for r in all_pages!(ec2.describe_route_tables().filters(ours()), route_tables, "DescribeRouteTables") {
        found.push((Kind::RouteTable, r.route_table_id().unwrap_or_default().into(), from_sdk(r.tags())));
    }
    for v in all_pages!(ec2.describe_vpcs().filters(ours()), vpcs, "DescribeVpcs") {
        found.push((Kind::Vpc, v.vpc_id().unwrap_or_default().into(), from_sdk(v.tags())));
    }
    Ok(leftovers(project, graph_nodes, recorded, found))
}

/// The decision, apart from the listing: ours (both tags), and either not a graph node
/// or not the id the state records for its node.
fn leftovers(
    project: &str,
    graph_nodes: &BTreeSet<String>,
    recorded: &BTreeMap<String, String>,
    found: Vec<(Kind, String, Tags)>,
) -> Vec<Owned<Leftover>> {
    let mut out: Vec<Owned<Leftover>> = found
        .into_iter()
        .filter_map(|(kind, id, tags)| {
            let node = tags.get(TAG_NODE).cloned().unwrap_or_default();
            let stale = !graph_nodes.contains(&node);
            let duplicate = recorded.get(&node).is_some_and(|r| *r != id);
            if id.is_empty() || !(stale || duplicate) {
                return None;
            }
            let leftover = Leftover { kind, id: id.clone(), node: node.clone() };
            Owned::verify(project, &node, &id, &tags, leftover).ok()
        })
        .collect();
    out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    out
}

/// Our Auto Scaling groups, and the capacity provider of each (same name, found by name:
/// ECS cannot list providers by tag).
async fn node_groups(aws_: &Aws, project: &str) -> Result<Vec<(Kind, String, Tags)>, ResourceError> {
    let ours = AsgFilter::builder().name(format!("tag:{TAG_PROJECT}")).values(project).build();
    let groups = all_pages!(
        aws_.autoscaling.describe_auto_scaling_groups().filters(ours),
        auto_scaling_groups,
        "DescribeAutoScalingGroups"
    );
    let mut found = Vec::new();
    for g in &groups {
        let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
        found.push((Kind::AutoScalingGroup, name.clone(), from_sdk(g.tags())));
        let providers = aws_
            .ecs
            .describe_capacity_providers()
            .capacity_providers(&name)
            .include(CapacityProviderField::Tags)
            .send()
            .await
            .map_err(aws("DescribeCapacityProviders"))?;
        for c in providers.capacity_providers().iter().filter(|c| c.status() == Some(&CapacityProviderStatus::Active)) {
            found.push((Kind::CapacityProvider, name.clone(), from_sdk(c.tags())));
        }
    }
    Ok(found)
}

/// The balancers and target groups, by their fixed names (ELBv2 lists by name or ARN, not
/// by tag): the frontend's, and the ingress's with the UI's and Grafana's groups.
async fn balancer(elb: &crate::balancing::Elb, project: &str) -> Result<Vec<(Kind, String, Tags)>, ResourceError> {
    let frontend = stack::frontend_balancer(project);
    let mut found = Vec::new();
    for name in [frontend.clone(), stack::ingress_balancer(project)] {
        let balancers = elb.describe_load_balancers().names(&name).send().await.map_err(aws("DescribeLoadBalancers"));
        for lb in crate::errors::absent_if_gone(balancers)?.iter().flat_map(|out| out.load_balancers()) {
            let arn = lb.load_balancer_arn().unwrap_or_default();
            found.push((Kind::LoadBalancer, arn.to_string(), crate::balancing::tags_of(elb, arn).await?));
        }
    }
    let groups = [
        frontend,
        stack::ingress_target_group_name(project, "ui"),
        stack::ingress_target_group_name(project, "grafana"),
    ];
    for name in groups {
        let described = elb.describe_target_groups().names(&name).send().await.map_err(aws("DescribeTargetGroups"));
        for tg in crate::errors::absent_if_gone(described)?.iter().flat_map(|out| out.target_groups()) {
            let arn = tg.target_group_arn().unwrap_or_default();
            found.push((Kind::TargetGroup, arn.to_string(), crate::balancing::tags_of(elb, arn).await?));
        }
    }
    Ok(found)
}

/// Still there, still going: the caller's backoff asks again.
fn still_deleting(what: String) -> ResourceError {
    ResourceError::new(ErrorClass::Retryable(RetryReason::DependencyViolation), what)
}

/// A provider must leave every cluster before ECS deletes it (the cluster's own provider
/// list only names the current groups after an `up`; not after a deploy.yaml edit alone).
/// The cluster's list is rewritten only when the cluster carries our tags: a same-named
/// cluster of someone else's keeps its providers, and the sweep stops naming it.
async fn remove_capacity_provider(
    ecs: &aws_sdk_ecs::Client,
    project: &str,
    cluster: &str,
    name: &str,
) -> Result<(), ResourceError> {
    let out = ecs
        .describe_clusters()
        .clusters(cluster)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(aws("DescribeClusters"))?;
    if let Some(c) = out.clusters().iter().find(|c| c.capacity_providers().iter().any(|p| p == name)) {
        let c = Owned::verify(project, stack::CLUSTER, cluster, &from_sdk(c.tags()), c)?;
        let keep: Vec<String> = c.capacity_providers().iter().filter(|p| *p != name).cloned().collect();
        let strategy =
            c.default_capacity_provider_strategy().iter().filter(|s| s.capacity_provider() != name).cloned().collect();
        ecs.put_cluster_capacity_providers()
            .cluster(c.cluster_arn().unwrap_or(cluster))
            .set_capacity_providers(Some(keep))
            .set_default_capacity_provider_strategy(Some(strategy))
            .send()
            .await
            .map_err(aws("PutClusterCapacityProviders"))?;
    }
    gone_is_ok(
        ecs.delete_capacity_provider()
            .capacity_provider(name)
            .send()
            .await
            .map(drop)
            .map_err(aws("DeleteCapacityProvider")),
    )
}

/// Force-delete terminates the instances; done when the group is gone, so their ENIs no
/// longer hold the subnets.
async fn remove_auto_scaling_group(asg: &aws_sdk_autoscaling::Client, name: &str) -> Result<(), ResourceError> {
    let describe = || async {
        let out = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(aws("DescribeAutoScalingGroups"))?;
        Ok::<_, ResourceError>(out.auto_scaling_groups().first().map(|g| (g.status().is_some(), g.instances().len())))
    };
    match describe().await? {
        None => return Ok(()),
        // "Delete in progress": asked already.
        Some((true, _)) => {}
        Some((false, _)) => gone_is_ok(
            asg.delete_auto_scaling_group()
                .auto_scaling_group_name(name)
                .force_delete(true)
                .send()
                .await
                .map(drop)
                .map_err(aws("DeleteAutoScalingGroup")),
        )?,
    }
    match describe().await? {
        None => Ok(()),
        Some((_, instances)) => {
            Err(still_deleting(format!("Auto Scaling group {name} is still terminating {instances} instance(s)")))
        }
    }
}

/// Detach from whatever VPC it is in, then delete.
async fn remove_internet_gateway(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), ResourceError> {
    let out = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(id)
        .send()
        .await
        .map_err(aws("DescribeInternetGateways"))?;
    for vpc in out.internet_gateways().iter().flat_map(|g| g.attachments()).filter_map(|a| a.vpc_id()) {
        gone_is_ok(
            ec2.detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .map(drop)
                .map_err(aws("DetachInternetGateway")),
        )?;
    }
    ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map(drop).map_err(aws("DeleteInternetGateway"))
}

/// Delete one leftover. `DependencyViolation` (and a group still terminating) comes back
/// as such, for the caller's backoff; already gone is success.
pub async fn remove(aws_: &Aws, project: &str, cluster: &str, l: &Owned<Leftover>) -> Result<(), ResourceError> {
    let ec2 = &aws_.ec2;
    let id = l.id.as_str();
    let result = match l.kind {
        Kind::LoadBalancer => aws_
            .elb
            .delete_load_balancer()
            .load_balancer_arn(id)
            .send()
            .await
            .map(drop)
            .map_err(aws("DeleteLoadBalancer")),
        Kind::TargetGroup => {
            aws_.elb.delete_target_group().target_group_arn(id).send().await.map(drop).map_err(aws("DeleteTargetGroup"))
        }
        Kind::CapacityProvider => return remove_capacity_provider(&aws_.ecs, project, cluster, id).await,
        Kind::AutoScalingGroup => return remove_auto_scaling_group(&aws_.autoscaling, id).await,
        Kind::VpcEndpoint => {
            ec2.delete_vpc_endpoints().vpc_endpoint_ids(id).send().await.map(drop).map_err(aws("DeleteVpcEndpoints"))
        }
        Kind::NatGateway => {
            ec2.delete_nat_gateway().nat_gateway_id(id).send().await.map(drop).map_err(aws("DeleteNatGateway"))
        }
        Kind::LaunchTemplate => ec2
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .map(drop)
            .map_err(aws("DeleteLaunchTemplate")),
        Kind::ElasticIp => {
            ec2.release_address().allocation_id(id).send().await.map(drop).map_err(aws("ReleaseAddress"))
        }
        Kind::InternetGateway => remove_internet_gateway(ec2, id).await,
        Kind::SecurityGroup => {
            ec2.delete_security_group().group_id(id).send().await.map(drop).map_err(aws("DeleteSecurityGroup"))
        }
        Kind::Subnet => ec2.delete_subnet().subnet_id(id).send().await.map(drop).map_err(aws("DeleteSubnet")),
        Kind::RouteTable => {
            ec2.delete_route_table().route_table_id(id).send().await.map(drop).map_err(aws("DeleteRouteTable"))
        }
        Kind::Vpc => ec2.delete_vpc().vpc_id(id).send().await.map(drop).map_err(aws("DeleteVpc")),
    };
    gone_is_ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(project: &str, node: &str) -> Tags {
        Tags::from([(TAG_PROJECT.into(), project.into()), (TAG_NODE.into(), node.into())])
    }

    #[test]
    fn only_ours_and_only_what_the_graph_and_state_do_not_account_for() {
        let graph: BTreeSet<String> =
            ["vpc", "internet-gateway", "security-group/ui"].iter().map(|s| s.to_string()).collect();
        let recorded = BTreeMap::from([
            ("vpc".to_string(), "vpc-1".to_string()),
            ("internet-gateway".to_string(), "igw-1".to_string()),
        ]);
        let found = vec![
            (Kind::Vpc, "vpc-1".into(), tags("p", "vpc")),
            (Kind::Vpc, "vpc-2".into(), tags("p", "vpc")),
            (Kind::SecurityGroup, "sg-ui".into(), tags("p", "security-group/ui")),
            (Kind::SecurityGroup, "sg-old".into(), tags("p", "security-group/old")),
            (Kind::SecurityGroup, "sg-other".into(), tags("other", "security-group/old")),
            (Kind::Subnet, "subnet-x".into(), Tags::from([(TAG_PROJECT.into(), "p".into())])),
            (Kind::InternetGateway, "igw-2".into(), tags("p", "internet-gateway")),
            (Kind::AutoScalingGroup, "p-node-old".into(), tags("p", "auto-scaling-group/old")),
            (Kind::CapacityProvider, "p-node-old".into(), tags("p", "capacity-provider/old")),
            // `frontend.endpoint: none` since the balancer was made.
            (Kind::TargetGroup, "arn:tg".into(), tags("p", "target-group/frontend")),
            (Kind::LoadBalancer, "arn:lb".into(), tags("p", "load-balancer/frontend")),
        ];
        let got = leftovers("p", &graph, &recorded, found);
        let ids: Vec<(Kind, &str)> = got.iter().map(|l| (l.kind, l.id.as_str())).collect();
        assert_eq!(
            ids,
            [
                (Kind::LoadBalancer, "arn:lb"),
                (Kind::TargetGroup, "arn:tg"),
                (Kind::CapacityProvider, "p-node-old"),
                (Kind::AutoScalingGroup, "p-node-old"),
                (Kind::InternetGateway, "igw-2"),
                (Kind::SecurityGroup, "sg-old"),
                (Kind::Vpc, "vpc-2")
            ],
            "stale nodes and a duplicate; the balancer before its target group and the network, the provider before its group, the group before the network, the VPC last"
        );
    }

    /// A cluster of our name but without our tags: its provider list is not rewritten.
    #[tokio::test]
    async fn a_cluster_without_our_tags_keeps_its_capacity_providers() {
        use aws_sdk_ecs::operation::delete_capacity_provider::DeleteCapacityProviderOutput;
        use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
        use aws_sdk_ecs::operation::put_cluster_capacity_providers::PutClusterCapacityProvidersOutput;
        use aws_sdk_ecs::types::{Cluster, Tag};
        use aws_smithy_mocks::mock;

        let cluster = |tags: Vec<Tag>| {
            let c = Cluster::builder()
                .cluster_name("p-cluster")
                .cluster_arn("arn:aws:ecs:us-east-1:1:cluster/p-cluster")
                .capacity_providers("p-node-old")
                .capacity_providers("p-node-a")
                .set_tags(Some(tags))
                .build();
            move || DescribeClustersOutput::builder().clusters(c.clone()).build()
        };
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let put = mock!(aws_sdk_ecs::Client::put_cluster_capacity_providers)
            .match_requests(|r| r.capacity_providers() == ["p-node-a".to_string()])
            .then_output(|| PutClusterCapacityProvidersOutput::builder().build());
        let delete = mock!(aws_sdk_ecs::Client::delete_capacity_provider)
            .then_output(|| DeleteCapacityProviderOutput::builder().build());

        let foreign = mock!(aws_sdk_ecs::Client::describe_clusters).then_output(cluster(vec![tag(TAG_PROJECT, "p")]));
        let ecs = crate::mocks::mocked!(aws_sdk_ecs, [&foreign, &put, &delete]);
        let refused = remove_capacity_provider(&ecs, "p", "p-cluster", "p-node-old").await.unwrap_err();
        assert!(refused.message.contains("p-cluster is not owned by this deployment"), "{refused}");
        assert_eq!((put.num_calls(), delete.num_calls()), (0, 0), "nothing sent that changes anything");

        let ours = mock!(aws_sdk_ecs::Client::describe_clusters)
            .then_output(cluster(vec![tag(TAG_PROJECT, "p"), tag(TAG_NODE, stack::CLUSTER)]));
        let ecs = crate::mocks::mocked!(aws_sdk_ecs, [&ours, &put, &delete]);
        remove_capacity_provider(&ecs, "p", "p-cluster", "p-node-old").await.unwrap();
        assert_eq!((put.num_calls(), delete.num_calls()), (1, 1), "ours: the provider leaves, then goes");
    }
}
