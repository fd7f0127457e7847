//! `down`'s sweep: network resources carrying this project's tags that the graph does not
//! account for — left by an interrupted run, by an older deploy.yaml (a zone or endpoint
//! since removed), or created by hand with our tags. It runs before the graph's own
//! deletes, so nothing of ours is left inside the VPC when the VPC's turn comes.
//!
//! Only what carries both ownership tags is touched.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Tag;
use temporalctl_engine::{ResourceError, TAG_NODE, TAG_PROJECT, owned_by};

use crate::Aws;
use crate::errors::{aws, gone_is_ok};
use crate::network::ec2::filter;

/// One resource found with our tags and no place in the graph or the state.
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
    VpcEndpoint,
    NatGateway,
    LaunchTemplate,
    ElasticIp,
    SecurityGroup,
    Subnet,
    RouteTable,
    Vpc,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::NatGateway => "nat-gateway",
            Kind::LaunchTemplate => "launch-template",
            Kind::ElasticIp => "elastic-ip",
            Kind::SecurityGroup => "security-group",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route-table",
            Kind::Vpc => "vpc",
        }
    }
}

fn node_of(tags: &[Tag]) -> (BTreeMap<String, String>, String) {
    let map: BTreeMap<String, String> =
        tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
    let node = map.get(TAG_NODE).cloned().unwrap_or_default();
    (map, node)
}

/// Our tagged network resources that are neither graph nodes nor the ids the state
/// records for them. `recorded`: node → id from the state file.
pub async fn find(
    aws_: &Aws,
    project: &str,
    graph_nodes: &BTreeSet<String>,
    recorded: &BTreeMap<String, String>,
) -> Result<Vec<Leftover>, ResourceError> {
    let ec2 = &aws_.ec2;
    let ours = || filter(&format!("tag:{TAG_PROJECT}"), project);
    let mut found: Vec<(Kind, String, Vec<Tag>)> = Vec::new();
    let out = ec2.describe_vpc_endpoints().filters(ours()).send().await.map_err(aws("DescribeVpcEndpoints"))?;
    for e in out.vpc_endpoints().iter().filter(|e| e.state().map(|s| s.as_str()) != Some("deleted")) {
        found.push((Kind::VpcEndpoint, e.vpc_endpoint_id().unwrap_or_default().into(), e.tags().to_vec()));
    }
    let out = ec2.describe_nat_gateways().filter(ours()).send().await.map_err(aws("DescribeNatGateways"))?;
    for n in
        out.nat_gateways().iter().filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
    {
        found.push((Kind::NatGateway, n.nat_gateway_id().unwrap_or_default().into(), n.tags().to_vec()));
    }
    let out = ec2.describe_launch_templates().filters(ours()).send().await.map_err(aws("DescribeLaunchTemplates"))?;
    for t in out.launch_templates() {
        found.push((Kind::LaunchTemplate, t.launch_template_id().unwrap_or_default().into(), t.tags().to_vec()));
    }
    let out = ec2.describe_addresses().filters(ours()).send().await.map_err(aws("DescribeAddresses"))?;
    for a in out.addresses() {
        found.push((Kind::ElasticIp, a.allocation_id().unwrap_or_default().into(), a.tags().to_vec()));
    }
    let out = ec2.describe_security_groups().filters(ours()).send().await.map_err(aws("DescribeSecurityGroups"))?;
    for g in out.security_groups() {
        found.push((Kind::SecurityGroup, g.group_id().unwrap_or_default().into(), g.tags().to_vec()));
    }
    let out = ec2.describe_subnets().filters(ours()).send().await.map_err(aws("DescribeSubnets"))?;
    for s in out.subnets() {
        found.push((Kind::Subnet, s.subnet_id().unwrap_or_default().into(), s.tags().to_vec()));
    }
    let out = ec2.describe_route_tables().filters(ours()).send().await.map_err(aws("DescribeRouteTables"))?;
    for r in out.route_tables() {
        found.push((Kind::RouteTable, r.route_table_id().unwrap_or_default().into(), r.tags().to_vec()));
    }
    let out = ec2.describe_vpcs().filters(ours()).send().await.map_err(aws("DescribeVpcs"))?;
    for v in out.vpcs() {
        found.push((Kind::Vpc, v.vpc_id().unwrap_or_default().into(), v.tags().to_vec()));
    }
    Ok(leftovers(project, graph_nodes, recorded, found))
}

/// The decision, apart from the listing: ours (both tags), and either not a graph node
/// or not the id the state records for its node.
fn leftovers(
    project: &str,
    graph_nodes: &BTreeSet<String>,
    recorded: &BTreeMap<String, String>,
    found: Vec<(Kind, String, Vec<Tag>)>,
) -> Vec<Leftover> {
    let mut out: Vec<Leftover> = found
        .into_iter()
        .filter_map(|(kind, id, tags)| {
            let (map, node) = node_of(&tags);
            if id.is_empty() || !owned_by(&map, project, &node) {
                return None;
            }
            let stale = !graph_nodes.contains(&node);
            let duplicate = recorded.get(&node).is_some_and(|r| *r != id);
            (stale || duplicate).then_some(Leftover { kind, id, node })
        })
        .collect();
    out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    out
}

/// Delete one leftover. `DependencyViolation` comes back as such, for the caller's
/// backoff; already gone is success.
pub async fn remove(aws_: &Aws, l: &Leftover) -> Result<(), ResourceError> {
    let ec2 = &aws_.ec2;
    let id = l.id.as_str();
    let result = match l.kind {
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

    fn tags(project: &str, node: &str) -> Vec<Tag> {
        vec![Tag::builder().key(TAG_PROJECT).value(project).build(), Tag::builder().key(TAG_NODE).value(node).build()]
    }

    #[test]
    fn only_ours_and_only_what_the_graph_and_state_do_not_account_for() {
        let graph: BTreeSet<String> = ["vpc", "security-group/ui"].iter().map(|s| s.to_string()).collect();
        let recorded = BTreeMap::from([("vpc".to_string(), "vpc-1".to_string())]);
        let found = vec![
            (Kind::Vpc, "vpc-1".into(), tags("p", "vpc")),
            (Kind::Vpc, "vpc-2".into(), tags("p", "vpc")),
            (Kind::SecurityGroup, "sg-ui".into(), tags("p", "security-group/ui")),
            (Kind::SecurityGroup, "sg-old".into(), tags("p", "security-group/old")),
            (Kind::SecurityGroup, "sg-other".into(), tags("other", "security-group/old")),
            (Kind::Subnet, "subnet-x".into(), vec![Tag::builder().key(TAG_PROJECT).value("p").build()]),
        ];
        let got = leftovers("p", &graph, &recorded, found);
        let ids: Vec<&str> = got.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["sg-old", "vpc-2"], "a stale node and a duplicate; security groups before the VPC");
    }
}
