//! `temporalctl verify`: prove every declared flow (`flows.rs`) against the live network.
//! The account is read once (security groups, route tables, NAT and internet gateways,
//! VPC endpoints, network ACLs) into [`Network`]; [`check`] is pure, so every way a flow
//! can break is unit-tested without AWS. No mutating call is ever made.
//!
//! What carries a flow, per AWS's VPC documentation: the source group's egress and the
//! destination group's ingress (security groups are stateful), the network ACLs of both
//! subnets in both directions (stateless: the answer comes back to ephemeral ports
//! 1024-65535), and for traffic leaving the VPC a default route to a NAT gateway that is
//! `available` whose own subnet routes to an attached internet gateway, unless an
//! interface endpoint with private DNS (or, for S3, a gateway endpoint on the route table)
//! takes the service's traffic inside the VPC.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use ipnet::Ipv4Net;
use serde::Serialize;
use temporalctl_engine::ResourceError;

use crate::errors::aws;
use crate::flows::{Flow, Peer};
use crate::outputs::Output;
use crate::stack;

/// An ingress or egress permission, as EC2 describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permission {
    /// `tcp`, `udp`, `-1` (all)…
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub cidrs: Vec<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRules {
    pub ingress: Vec<Permission>,
    pub egress: Vec<Permission>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// A CIDR, or a prefix list id for gateway endpoints.
    pub destination: String,
    /// `local`, `igw-…`, `nat-…`, `vpce-…`.
    pub target: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    /// `com.amazonaws.<region>.<service>`.
    pub service: String,
    pub interface: bool,
    pub state: String,
    pub private_dns: bool,
    pub groups: Vec<String>,
    pub route_tables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AclEntry {
    pub number: i32,
    pub egress: bool,
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub cidr: String,
    pub allow: bool,
}

/// The live network, as read.
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub region: String,
    pub vpc_cidr: String,
    /// Group node id → security group id (from the state file).
    pub group_ids: BTreeMap<String, String>,
    /// Security group id → its rules (from the account).
    pub groups: BTreeMap<String, GroupRules>,
    /// The subnets tasks and the domain run in: id → CIDR.
    pub subnets: BTreeMap<String, String>,
    /// Subnet id → (route table id, routes): explicit association, else the main table.
    pub routes: BTreeMap<String, (String, Vec<Route>)>,
    /// NAT gateway id → (state, its subnet).
    pub nat_gateways: BTreeMap<String, (String, String)>,
    pub attached_internet_gateways: BTreeSet<String>,
    pub endpoints: Vec<Endpoint>,
    /// Subnet id → (network ACL id, entries).
    pub acls: BTreeMap<String, (String, Vec<AclEntry>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub flow: String,
    pub why: &'static str,
    pub allowed: bool,
    /// The rules and routes that carry it.
    pub carried_by: Vec<String>,
    /// What is missing, when blocked.
    pub missing: Vec<String>,
}

const ANYWHERE: &str = "0.0.0.0/0";
const EPHEMERAL: (i32, i32) = (1024, 65535);

fn net(cidr: &str) -> Option<Ipv4Net> {
    cidr.parse().ok()
}

/// Whether `outer` holds every address of `inner`.
fn covers(outer: &str, inner: &str) -> bool {
    matches!((net(outer), net(inner)), (Some(o), Some(i)) if o.contains(&i))
}

fn protocol_matches(protocol: &str) -> bool {
    matches!(protocol, "-1" | "tcp" | "6")
}

fn ports_match(protocol: &str, from: i32, to: i32, ports: (i32, i32)) -> bool {
    protocol == "-1" || (from <= ports.0 && ports.1 <= to)
}

fn describe(p: &Permission) -> String {
    let ports = if p.protocol == "-1" { "all".to_string() } else { format!("{}/{}-{}", p.protocol, p.from, p.to) };
    let peers: Vec<&str> = p.cidrs.iter().chain(&p.groups).map(String::as_str).collect();
    format!("{ports} {}", peers.join(","))
}

/// The first permission admitting `ports` to or from the group `peer_group` or a CIDR
/// holding every one of `peer_cidrs`.
fn permits(perms: &[Permission], ports: (i32, i32), peer_group: Option<&str>, peer_cidrs: &[String]) -> Option<String> {
    perms
        .iter()
        .filter(|p| protocol_matches(&p.protocol) && ports_match(&p.protocol, p.from, p.to, ports))
        .find(|p| {
            peer_group.is_some_and(|g| p.groups.iter().any(|x| x == g))
                || (!peer_cidrs.is_empty() && peer_cidrs.iter().all(|c| p.cidrs.iter().any(|r| covers(r, c))))
        })
        .map(describe)
}

/// Whether two CIDRs share any address.
fn overlaps(a: &str, b: &str) -> bool {
    matches!((net(a), net(b)), (Some(x), Some(y)) if x.contains(&y.network()) || y.contains(&x.network()))
}

/// Network ACLs decide by the lowest-numbered matching entry. An allow must hold all of the
/// peer; a deny that touches any part of a subnet blocks (some of its tasks are cut off).
/// Toward the internet only a deny of everything blocks: which public addresses DSQL or
/// an AWS API answer from is not known here.
fn acl_decides(entries: &[AclEntry], egress: bool, ports: (i32, i32), peer: &str) -> Option<(bool, i32)> {
    let mut mine: Vec<&AclEntry> = entries.iter().filter(|e| e.egress == egress).collect();
    mine.sort_by_key(|e| e.number);
    mine.into_iter()
        .find(|e| {
            let reaches = if e.allow || peer == ANYWHERE { covers(&e.cidr, peer) } else { overlaps(&e.cidr, peer) };
            protocol_matches(&e.protocol) && ports_match(&e.protocol, e.from, e.to, ports) && reaches
        })
        .map(|e| (e.allow, e.number))
}

pub fn check(flows: &[Flow], n: &Network) -> Vec<Verdict> {
    flows.iter().map(|f| check_one(f, n)).collect()
}

struct Proof {
    carried_by: Vec<String>,
    missing: Vec<String>,
}

impl Proof {
    fn need(&mut self, found: Option<String>, what: impl FnOnce() -> String) {
        match found {
            Some(s) => self.carried_by.push(s),
            None => self.missing.push(what()),
        }
    }
}

fn check_one(f: &Flow, n: &Network) -> Verdict {
    let mut proof = Proof { carried_by: Vec::new(), missing: Vec::new() };
    let subnet_cidrs: Vec<String> = n.subnets.values().cloned().collect();
    match n.group_ids.get(&f.from) {
        None => proof.missing.push(format!("security group {} is not recorded: run `temporalctl up`", f.from)),
        Some(src) => match &f.to {
            Peer::Group(dst_node) => match n.group_ids.get(dst_node) {
                None => proof.missing.push(format!("security group {dst_node} is not recorded: run `temporalctl up`")),
                Some(dst) => {
                    let egress = n.groups.get(src).map(|g| permits(&g.egress, f.ports, Some(dst), &subnet_cidrs));
                    proof.need(egress.flatten().map(|r| format!("{src} egress {r}")), || {
                        format!("{src} ({}) has no egress rule for tcp/{:?} to {dst}", f.from, f.ports)
                    });
                    let ingress = n.groups.get(dst).map(|g| permits(&g.ingress, f.ports, Some(src), &subnet_cidrs));
                    proof.need(ingress.flatten().map(|r| format!("{dst} ingress {r}")), || {
                        format!("{dst} ({dst_node}) has no ingress rule for tcp/{:?} from {src}", f.ports)
                    });
                    acl_path(n, f.ports, &subnet_cidrs, false, &mut proof);
                }
            },
            Peer::AwsApi(service) => {
                let name = format!("com.amazonaws.{}.{service}", n.region);
                let interface = n.endpoints.iter().find(|e| e.service == name && e.interface);
                match interface {
                    Some(e) => through_endpoint(n, src, f, e, &subnet_cidrs, &mut proof),
                    None => {
                        let gateway = n.endpoints.iter().find(|e| e.service == name && !e.interface);
                        through_nat(n, src, f, gateway, &mut proof)
                    }
                }
            }
            Peer::Public(_) => through_nat(n, src, f, None, &mut proof),
        },
    }
    Verdict {
        flow: f.label(),
        why: f.why,
        allowed: proof.missing.is_empty(),
        carried_by: proof.carried_by,
        missing: proof.missing,
    }
}

/// Through the ACLs of the task subnets. Inside the VPC the subnets are both ends, so
/// both directions are checked, each with its replies to ephemeral ports; a connection
/// leaving the VPC needs only the way out and its replies in.
fn acl_path(n: &Network, ports: (i32, i32), peers: &[String], leaves_vpc: bool, proof: &mut Proof) {
    let directions: &[(bool, (i32, i32), &str)] = if leaves_vpc {
        &[(true, ports, "out"), (false, EPHEMERAL, "replies in")]
    } else {
        &[
            (true, ports, "out"),
            (false, ports, "in"),
            (true, EPHEMERAL, "replies out"),
            (false, EPHEMERAL, "replies in"),
        ]
    };
    for (subnet, (acl, entries)) in &n.acls {
        if !n.subnets.contains_key(subnet) {
            continue;
        }
        for peer in peers {
            for &(egress, p, what) in directions {
                match acl_decides(entries, egress, p, peer) {
                    Some((true, _)) => {}
                    Some((false, number)) => proof.missing.push(format!(
                        "network ACL {acl} on {subnet} denies {what} tcp/{:?} for {peer} (entry {number})",
                        p
                    )),
                    None => proof.missing.push(format!(
                        "network ACL {acl} on {subnet} has no entry allowing {what} tcp/{:?} for {peer}",
                        p
                    )),
                }
            }
        }
    }
}

fn through_endpoint(n: &Network, src: &str, f: &Flow, e: &Endpoint, subnets: &[String], proof: &mut Proof) {
    if e.state.to_lowercase() != "available" {
        proof.missing.push(format!("endpoint {} ({}) is {}, not available", e.id, e.service, e.state));
    }
    if !e.private_dns {
        proof.missing.push(format!(
            "endpoint {} ({}) has private DNS off: its service name resolves outside the VPC",
            e.id, e.service
        ));
    }
    let vpc = [n.vpc_cidr.clone()];
    let egress = n.groups.get(src).and_then(|g| {
        e.groups
            .iter()
            .find_map(|eg| permits(&g.egress, f.ports, Some(eg), &[]))
            .or_else(|| permits(&g.egress, f.ports, None, &vpc))
    });
    proof.need(egress.map(|r| format!("{src} egress {r}")), || {
        format!("{src} ({}) has no egress rule for tcp/{:?} to the VPC or endpoint {}", f.from, f.ports, e.id)
    });
    let ingress = e.groups.iter().find_map(|eg| {
        n.groups
            .get(eg)
            .and_then(|g| permits(&g.ingress, f.ports, Some(src), subnets))
            .map(|r| format!("{eg} ingress {r}"))
    });
    proof.need(ingress, || format!("endpoint {}'s groups admit no tcp/{:?} from {src}", e.id, f.ports));
    proof.carried_by.push(format!("endpoint {} ({})", e.id, e.service));
    acl_path(n, f.ports, subnets, false, proof);
}

fn through_nat(n: &Network, src: &str, f: &Flow, gateway: Option<&Endpoint>, proof: &mut Proof) {
    let egress = n.groups.get(src).and_then(|g| permits(&g.egress, f.ports, None, &[ANYWHERE.to_string()]));
    proof.need(egress.map(|r| format!("{src} egress {r}")), || {
        format!("{src} ({}) has no egress rule for tcp/{:?} to {ANYWHERE}", f.from, f.ports)
    });
    for (subnet, (table, routes)) in n.routes.iter().filter(|(s, _)| n.subnets.contains_key(*s)) {
        if let Some(g) = gateway.filter(|g| g.route_tables.contains(table)) {
            proof.carried_by.push(format!("{table} on {subnet}: gateway endpoint {}", g.id));
            continue;
        }
        let Some(default) = routes.iter().find(|r| r.destination == ANYWHERE) else {
            proof.missing.push(format!("route table {table} of {subnet} has no default route ({ANYWHERE})"));
            continue;
        };
        if !default.active || !default.target.starts_with("nat-") {
            proof.missing.push(format!(
                "route table {table} of {subnet} sends {ANYWHERE} to {} ({}), not to an active NAT gateway",
                default.target,
                if default.active { "active" } else { "blackhole" }
            ));
            continue;
        }
        let nat = &default.target;
        match n.nat_gateways.get(nat) {
            Some((state, nat_subnet)) if state == "available" => {
                let out = n.routes.get(nat_subnet).and_then(|(t, rs)| {
                    rs.iter()
                        .find(|r| {
                            r.destination == ANYWHERE && r.active && n.attached_internet_gateways.contains(&r.target)
                        })
                        .map(|r| format!("{t} on {nat_subnet}: {ANYWHERE} -> {}", r.target))
                });
                proof.carried_by.push(format!("{table} on {subnet}: {ANYWHERE} -> {nat}"));
                proof.need(out, || {
                    format!(
                        "NAT gateway {nat}'s subnet {nat_subnet} has no active route to an attached internet gateway"
                    )
                });
            }
            Some((state, _)) => proof.missing.push(format!("NAT gateway {nat} is {state}, not available")),
            None => proof.missing.push(format!("NAT gateway {nat} (routed to from {table}) does not exist")),
        }
    }
    acl_path(n, f.ports, &[ANYWHERE.to_string()], true, proof);
}

impl crate::operate::Operator<'_> {
    /// Read the live network the flows cross: six describe calls, each scoped to the VPC
    /// or to the recorded group ids. The group ids and subnets come from the state file.
    pub async fn network(&self) -> Result<Network, ResourceError> {
        let d = self.deploy;
        // The blocks as the VPC and subnet nodes recorded them (ours or the user's), else as
        // deploy.yaml lays them out (state files from before they were recorded).
        let layout = temporalctl_config::network_layout(d).ok();
        let vpc = self.output(stack::VPC, Output::Id)?;
        let vpc_cidr =
            self.recorded(stack::VPC, Output::Cidr).or_else(|| layout.as_ref().map(|l| l.vpc.to_string())).ok_or_else(
                || ResourceError::fatal("the state file has no block for the VPC: run `temporalctl up` first"),
            )?;
        let mut n = Network { region: d.region.clone(), vpc_cidr, ..Default::default() };
        let mut group_nodes: BTreeSet<String> = crate::flows::flows().iter().map(|f| f.from.clone()).collect();
        group_nodes.extend([stack::OPENSEARCH_SG.to_string(), stack::ENDPOINTS_SG.to_string()]);
        for node in group_nodes {
            if let Some(id) = self.recorded(&node, Output::Id) {
                n.group_ids.insert(node, id);
            }
        }
        for (i, node) in stack::private_subnets(d).iter().enumerate() {
            let laid_out = layout.as_ref().and_then(|l| l.private_subnets.get(i)).map(|(_, c)| c.to_string());
            let cidr = self.recorded(node, Output::Cidr).or(laid_out).unwrap_or_default();
            n.subnets.insert(self.output(node, Output::Id)?, cidr);
        }
        let in_vpc = || Filter::builder().name("vpc-id").values(&vpc).build();
        let ec2 = &self.aws.ec2;

        // By filter, not by id: a recorded group deleted out of band is then missing from
        // the answer (its flows blocked, by name) instead of failing the whole call; and
        // no ids must not mean every group of the region.
        let ids: Vec<String> = n.group_ids.values().cloned().collect();
        let by_id = Filter::builder().name("group-id").set_values(Some(ids.clone())).build();
        let groups = if ids.is_empty() {
            aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput::builder().build()
        } else {
            self.call("DescribeSecurityGroups", || async {
                ec2.describe_security_groups()
                    .filters(by_id.clone())
                    .send()
                    .await
                    .map_err(aws("DescribeSecurityGroups"))
            })
            .await?
        };
        for g in groups.security_groups() {
            let rules =
                GroupRules { ingress: permissions(g.ip_permissions()), egress: permissions(g.ip_permissions_egress()) };
            n.groups.insert(g.group_id().unwrap_or_default().to_string(), rules);
        }

        let tables = self
            .call("DescribeRouteTables", || async {
                ec2.describe_route_tables().filters(in_vpc()).send().await.map_err(aws("DescribeRouteTables"))
            })
            .await?;
        let mut main = None;
        let mut explicit = BTreeMap::new();
        for t in tables.route_tables() {
            let routes: Vec<Route> = t
                .routes()
                .iter()
                .map(|r| Route {
                    destination: r
                        .destination_cidr_block()
                        .or(r.destination_prefix_list_id())
                        .unwrap_or_default()
                        .to_string(),
                    target: [
                        r.nat_gateway_id(),
                        r.gateway_id(),
                        r.network_interface_id(),
                        r.transit_gateway_id(),
                        r.vpc_peering_connection_id(),
                    ]
                    .into_iter()
                    .flatten()
                    .next()
                    .unwrap_or("none")
                    .to_string(),
                    active: r.state().is_none_or(|s| s.as_str() == "active"),
                })
                .collect();
            let entry = (t.route_table_id().unwrap_or_default().to_string(), routes);
            for a in t.associations() {
                if a.main() == Some(true) {
                    main = Some(entry.clone());
                }
                if let Some(subnet) = a.subnet_id() {
                    explicit.insert(subnet.to_string(), entry.clone());
                }
            }
        }

        let nats = self
            .call("DescribeNatGateways", || async {
                ec2.describe_nat_gateways().filter(in_vpc()).send().await.map_err(aws("DescribeNatGateways"))
            })
            .await?;
        for g in nats.nat_gateways() {
            let state = g.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            n.nat_gateways.insert(
                g.nat_gateway_id().unwrap_or_default().into(),
                (state, g.subnet_id().unwrap_or_default().into()),
            );
        }
        // The routes of the subnets tasks run in, and of the NAT gateways' own (public) ones.
        let nat_subnets: Vec<String> = n.nat_gateways.values().map(|(_, subnet)| subnet.clone()).collect();
        for subnet in n.subnets.keys().cloned().chain(nat_subnets) {
            if let Some(t) = explicit.get(&subnet).cloned().or_else(|| main.clone()) {
                n.routes.insert(subnet, t);
            }
        }

        let igws = self
            .call("DescribeInternetGateways", || async {
                let attached = Filter::builder().name("attachment.vpc-id").values(&vpc).build();
                ec2.describe_internet_gateways().filters(attached).send().await.map_err(aws("DescribeInternetGateways"))
            })
            .await?;
        for g in igws.internet_gateways() {
            let attached = g.attachments().iter().any(|a| {
                a.vpc_id() == Some(vpc.as_str())
                    && a.state().is_some_and(|s| matches!(s.as_str(), "available" | "attached"))
            });
            if attached {
                n.attached_internet_gateways.insert(g.internet_gateway_id().unwrap_or_default().into());
            }
        }

        let endpoints = self
            .call("DescribeVpcEndpoints", || async {
                ec2.describe_vpc_endpoints().filters(in_vpc()).send().await.map_err(aws("DescribeVpcEndpoints"))
            })
            .await?;
        // A deleted endpoint stays described for a while; it carries nothing.
        let gone = |e: &&aws_sdk_ec2::types::VpcEndpoint| {
            e.state().is_some_and(|s| matches!(s.as_str().to_lowercase().as_str(), "deleted" | "deleting"))
        };
        for e in endpoints.vpc_endpoints().iter().filter(|e| !gone(e)) {
            n.endpoints.push(Endpoint {
                id: e.vpc_endpoint_id().unwrap_or_default().into(),
                service: e.service_name().unwrap_or_default().into(),
                interface: e.vpc_endpoint_type().is_some_and(|t| t.as_str() == "Interface"),
                state: e.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                private_dns: e.private_dns_enabled() == Some(true),
                groups: e.groups().iter().filter_map(|g| g.group_id().map(String::from)).collect(),
                route_tables: e.route_table_ids().to_vec(),
            });
        }

        let acls = self
            .call("DescribeNetworkAcls", || async {
                ec2.describe_network_acls().filters(in_vpc()).send().await.map_err(aws("DescribeNetworkAcls"))
            })
            .await?;
        n.acls = subnet_acls(acls.network_acls(), n.subnets.keys());
        Ok(n)
    }
}

/// Each subnet's network ACL and entries: its explicit association, else the VPC's
/// default ACL.
pub(crate) fn subnet_acls<'a>(
    acls: &[aws_sdk_ec2::types::NetworkAcl],
    subnets: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, (String, Vec<AclEntry>)> {
    let mut by_subnet = BTreeMap::new();
    let mut default_acl = None;
    let mut associated = BTreeMap::new();
    for acl in acls {
        let id = acl.network_acl_id().unwrap_or_default().to_string();
        let entries: Vec<AclEntry> = acl
            .entries()
            .iter()
            .map(|e| AclEntry {
                number: e.rule_number().unwrap_or(32767),
                egress: e.egress() == Some(true),
                protocol: e.protocol().unwrap_or("-1").to_string(),
                from: e.port_range().and_then(|r| r.from()).unwrap_or(0),
                to: e.port_range().and_then(|r| r.to()).unwrap_or(65535),
                cidr: e.cidr_block().unwrap_or_default().to_string(),
                allow: e.rule_action().is_some_and(|a| a.as_str() == "allow"),
            })
            .collect();
        if acl.is_default() == Some(true) {
            default_acl = Some((id.clone(), entries.clone()));
        }
        for a in acl.associations() {
            if let Some(subnet) = a.subnet_id() {
                associated.insert(subnet.to_string(), (id.clone(), entries.clone()));
            }
        }
    }
    for subnet in subnets {
        if let Some(acl) = associated.get(subnet).or(default_acl.as_ref()) {
            by_subnet.insert(subnet.clone(), acl.clone());
        }
    }
    by_subnet
}

/// What the network ACLs of `n.subnets` block of the flows, before any group exists
/// (preflight, in a network of the user's): each flow's ports through both ends' ACLs
/// inside the VPC, or out and the replies back when it leaves it, as `verify` judges them.
pub fn acl_blockers(flows: &[Flow], n: &Network) -> Vec<String> {
    let subnet_cidrs: Vec<String> = n.subnets.values().cloned().collect();
    let mut missing = BTreeSet::new();
    for f in flows {
        let mut proof = Proof { carried_by: Vec::new(), missing: Vec::new() };
        match &f.to {
            Peer::Group(_) => acl_path(n, f.ports, &subnet_cidrs, false, &mut proof),
            Peer::AwsApi(_) | Peer::Public(_) => acl_path(n, f.ports, &[ANYWHERE.to_string()], true, &mut proof),
        }
        missing.extend(proof.missing);
    }
    missing.into_iter().collect()
}

fn permissions(perms: &[aws_sdk_ec2::types::IpPermission]) -> Vec<Permission> {
    perms
        .iter()
        .map(|p| Permission {
            protocol: p.ip_protocol().unwrap_or("-1").to_string(),
            from: p.from_port().unwrap_or(-1),
            to: p.to_port().unwrap_or(-1),
            cidrs: p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(String::from)).collect(),
            groups: p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(String::from)).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::flows;
    use crate::stack::{ENDPOINTS_SG, OPENSEARCH_SG, service_sg};

    fn acl(number: i32, egress: bool, protocol: &str, (from, to): (i32, i32), cidr: &str, allow: bool) -> AclEntry {
        AclEntry { number, egress, protocol: protocol.into(), from, to, cidr: cidr.into(), allow }
    }

    fn perm(protocol: &str, from: i32, to: i32, cidrs: &[&str], groups: &[&str]) -> Permission {
        Permission {
            protocol: protocol.into(),
            from,
            to,
            cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A network built from the flows the way `up` builds it.
    fn healthy() -> Network {
        let f = flows();
        let mut n = Network {
            region: "us-east-1".into(),
            vpc_cidr: "10.0.0.0/16".into(),
            subnets: BTreeMap::from([
                ("subnet-a".into(), "10.0.1.0/24".into()),
                ("subnet-b".into(), "10.0.2.0/24".into()),
            ]),
            ..Default::default()
        };
        let mut nodes: BTreeSet<String> = f.iter().map(|f| f.from.clone()).collect();
        nodes.insert(OPENSEARCH_SG.into());
        nodes.insert(ENDPOINTS_SG.into());
        for (i, node) in nodes.iter().enumerate() {
            n.group_ids.insert(node.clone(), format!("sg-{i}"));
        }
        for node in &nodes {
            let id = n.group_ids[node].clone();
            let mut rules = GroupRules::default();
            for (from, ports) in crate::flows::ingress_of(node, &f) {
                rules.ingress.push(perm("tcp", ports.0, ports.1, &[], &[&n.group_ids[&from]]));
            }
            for (ports, leaves) in crate::flows::egress_of(node, &f) {
                let to = if leaves { ANYWHERE } else { "10.0.0.0/16" };
                rules.egress.push(perm("tcp", ports.0, ports.1, &[to], &[]));
            }
            if node == ENDPOINTS_SG {
                rules.ingress.push(perm("tcp", 443, 443, &["10.0.0.0/16"], &[]));
            }
            n.groups.insert(id, rules);
        }
        let private = vec![
            Route { destination: "10.0.0.0/16".into(), target: "local".into(), active: true },
            Route { destination: ANYWHERE.into(), target: "nat-1".into(), active: true },
        ];
        n.routes.insert("subnet-a".into(), ("rtb-private".into(), private.clone()));
        n.routes.insert("subnet-b".into(), ("rtb-private".into(), private));
        n.routes.insert(
            "subnet-public".into(),
            ("rtb-public".into(), vec![Route { destination: ANYWHERE.into(), target: "igw-1".into(), active: true }]),
        );
        n.nat_gateways.insert("nat-1".into(), ("available".into(), "subnet-public".into()));
        n.attached_internet_gateways.insert("igw-1".into());
        n.endpoints.push(Endpoint {
            id: "vpce-logs".into(),
            service: "com.amazonaws.us-east-1.logs".into(),
            interface: true,
            state: "available".into(),
            private_dns: true,
            groups: vec![n.group_ids[ENDPOINTS_SG].clone()],
            route_tables: vec![],
        });
        let default_acl =
            vec![acl(100, true, "-1", (0, 0), ANYWHERE, true), acl(100, false, "-1", (0, 0), ANYWHERE, true)];
        for s in ["subnet-a", "subnet-b"] {
            n.acls.insert(s.into(), ("acl-1".into(), default_acl.clone()));
        }
        n
    }

    fn blocked(n: &Network) -> Vec<Verdict> {
        check(&flows(), n).into_iter().filter(|v| !v.allowed).collect()
    }

    #[test]
    fn the_network_up_builds_carries_every_flow_and_names_what_carries_it() {
        let n = healthy();
        assert_eq!(blocked(&n), vec![]);
        let dsql = check(&flows(), &n).into_iter().find(|v| v.flow == "history -> dsql tcp/5432").unwrap();
        assert!(dsql.carried_by.iter().any(|c| c.contains("egress tcp/5432-5432 0.0.0.0/0")), "{dsql:?}");
        assert!(dsql.carried_by.iter().any(|c| c.contains("0.0.0.0/0 -> nat-1")), "{dsql:?}");
        assert!(dsql.carried_by.iter().any(|c| c.contains("-> igw-1")), "{dsql:?}");
        let logs = check(&flows(), &n).into_iter().find(|v| v.flow == "instances -> aws:logs tcp/443").unwrap();
        assert!(logs.carried_by.iter().any(|c| c.contains("vpce-logs")), "{logs:?}");
    }

    #[test]
    fn the_old_egress_without_5432_blocks_temporal_from_dsql() {
        let mut n = healthy();
        for g in n.groups.values_mut() {
            g.egress.retain(|p| p.from != 5432);
        }
        let b = blocked(&n);
        let flows: Vec<&str> = b.iter().map(|v| v.flow.as_str()).collect();
        assert_eq!(
            flows,
            [
                "history -> dsql tcp/5432",
                "matching -> dsql tcp/5432",
                "frontend -> dsql tcp/5432",
                "internal_frontend -> dsql tcp/5432",
                "worker -> dsql tcp/5432"
            ]
        );
        assert!(b[0].missing[0].contains("no egress rule for tcp/(5432, 5432) to 0.0.0.0/0"), "{:?}", b[0].missing);
    }

    #[test]
    fn a_missing_nat_route_a_pending_nat_or_a_detached_gateway_blocks_everything_leaving_the_vpc() {
        let mut n = healthy();
        n.routes.get_mut("subnet-b").unwrap().1.retain(|r| r.destination != ANYWHERE);
        let b = blocked(&n);
        assert!(b.iter().any(|v| v.flow == "history -> dsql tcp/5432" && v.missing[0].contains("subnet-b has no default route")));
        assert!(!b.iter().any(|v| v.flow == "instances -> aws:logs tcp/443"), "the logs endpoint stays inside the VPC");

        let mut n = healthy();
        n.nat_gateways.insert("nat-1".into(), ("pending".into(), "subnet-public".into()));
        assert!(blocked(&n).iter().any(|v| v.missing.iter().any(|m| m.contains("nat-1 is pending"))));

        let mut n = healthy();
        n.attached_internet_gateways.clear();
        assert!(
            blocked(&n)
                .iter()
                .any(|v| v.missing.iter().any(|m| m.contains("no active route to an attached internet gateway")))
        );
    }

    #[test]
    fn ingress_removed_between_services_or_opensearch_is_named() {
        let mut n = healthy();
        let os = n.group_ids[OPENSEARCH_SG].clone();
        n.groups.get_mut(&os).unwrap().ingress.clear();
        let b = blocked(&n);
        assert_eq!(b.len(), 5, "the five Temporal services lose visibility: {b:?}");
        assert!(b[0].missing[0].contains("has no ingress rule for tcp/(443, 443)"));
        let mut n = healthy();
        let frontend = n.group_ids[&service_sg("frontend")].clone();
        let ui = n.group_ids[&service_sg("ui")].clone();
        n.groups.get_mut(&frontend).unwrap().ingress.retain(|p| !p.groups.contains(&ui));
        let b = blocked(&n);
        assert_eq!(b.iter().map(|v| v.flow.as_str()).collect::<Vec<_>>(), ["ui -> frontend tcp/7233"]);
    }

    /// A locked-down ACL that allows only what a connection through the NAT needs (the way
    /// out, and replies in on ephemeral ports) passes; a deny on half a subnet blocks.
    #[test]
    fn acls_are_judged_by_direction_and_a_partial_deny_blocks() {
        let mut n = healthy();
        let tight = vec![
            acl(100, true, "-1", (0, 0), ANYWHERE, true),
            acl(100, false, "-1", (0, 0), "10.0.0.0/16", true),
            acl(110, false, "tcp", (1024, 65535), ANYWHERE, true),
        ];
        for (_, entries) in n.acls.values_mut() {
            *entries = tight.clone();
        }
        assert_eq!(blocked(&n), vec![], "no inbound 5432 from the internet is needed");
        let entries = &mut n.acls.get_mut("subnet-b").unwrap().1;
        entries.push(acl(50, false, "-1", (0, 0), "10.0.1.0/25", false));
        let b = blocked(&n);
        assert!(b.iter().any(|v| v.flow == "history -> frontend tcp/7233-7239"), "{b:?}");
        assert!(
            !b.iter().any(|v| v.flow == "history -> dsql tcp/5432"),
            "traffic leaving the VPC is not from 10.0.1.0/25"
        );
    }

    /// Preflight in a network of the user's: only the ACLs are judged, no group exists yet.
    #[test]
    fn acl_blockers_name_the_subnet_the_port_and_the_entry_and_nothing_when_acls_allow() {
        let mut n = healthy();
        n.groups.clear();
        n.group_ids.clear();
        assert_eq!(acl_blockers(&flows(), &n), Vec::<String>::new(), "the default ACLs allow everything");
        n.acls.get_mut("subnet-b").unwrap().1.push(acl(50, true, "tcp", (5432, 5432), ANYWHERE, false));
        let b = acl_blockers(&flows(), &n);
        assert!(b.iter().any(|m| m.contains("subnet-b") && m.contains("5432") && m.contains("entry 50")), "{b:?}");
        assert!(b.iter().all(|m| m.contains("subnet-b")), "{b:?}");
    }

    #[test]
    fn endpoints_without_private_dns_and_acls_that_deny_replies_are_caught() {
        let mut n = healthy();
        n.endpoints[0].private_dns = false;
        assert!(blocked(&n).iter().any(|v| v.flow == "instances -> aws:logs tcp/443"));
        let mut n = healthy();
        let entries = &mut n.acls.get_mut("subnet-a").unwrap().1;
        entries.push(acl(50, false, "tcp", (1024, 65535), ANYWHERE, false));
        let b = blocked(&n);
        assert!(
            !b.is_empty()
                && b.iter()
                    .all(|v| v.missing.iter().any(|m| m.contains("denies replies in") && m.contains("entry 50")))
        );
    }
}
