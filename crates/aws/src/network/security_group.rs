//! A security group and its rules. Rules are compared in a canonical form, one rule per
//! source, so drift (a rule removed or added out of band) is repaired rule by rule.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};
use temporalctl_engine::{
    AttrValue, Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, inherited_tags,
    replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, name_blockers, tag_spec};
use crate::errors::{aws, gone_is_ok, on_new_id};
use crate::outputs::Output;
use crate::tags::from_sdk;

#[derive(Debug, Clone)]
pub enum Source {
    Cidr(String),
    /// Another security group of the stack, by node.
    Group(NodeId),
    /// Members of this same group.
    SelfRef,
    /// A group outside the stack, by id (`frontend.clients`).
    GroupId(String),
    /// The block of the VPC node named (ours, or the user's `network.existing`).
    VpcCidr(NodeId),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// `tcp`, `udp`, or `-1` for all traffic.
    pub protocol: &'static str,
    pub from: i32,
    pub to: i32,
    pub source: Source,
}

impl Rule {
    pub fn tcp(port: i32, source: Source) -> Self {
        Self { protocol: "tcp", from: port, to: port, source }
    }
    pub fn tcp_range(from: i32, to: i32, source: Source) -> Self {
        Self { protocol: "tcp", from, to, source }
    }
    pub fn all(source: Source) -> Self {
        Self { protocol: "-1", from: -1, to: -1, source }
    }
}

pub struct SecurityGroup {
    pub ec2: Ec2,
    pub vpc: NodeId,
    pub group_name: String,
    pub description: String,
    pub ingress: Vec<Rule>,
    /// Empty means no egress at all (AWS's default allow-all rule is removed).
    pub egress: Vec<Rule>,
}

/// The security group of `cx.node`, by recorded id, else by its ownership tags.
async fn find_group(ec2: &Ec2, cx: &Cx<'_>) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>, ResourceError> {
    lookup!(
        cx,
        &ec2.listings,
        "security group",
        ec2.describe_security_groups(),
        group_ids,
        set_filters,
        security_groups,
        "DescribeSecurityGroups",
        |_| true,
        |g| g.group_id()
    )
}

/// Where a rule admits traffic from (or sends it to), as AWS holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Cidr(String),
    Cidr6(String),
    /// Another group, by id.
    Group(String),
    /// Members of this same group.
    SelfRef,
    PrefixList(String),
}

/// One rule as AWS holds it, one peer each: the comparable form of the rules we want
/// and of the rules a group has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    /// `tcp`, `udp`, or `-1` for all traffic.
    pub protocol: String,
    /// None for all traffic (AWS ignores ports then).
    pub ports: Option<(i32, i32)>,
    pub peer: Peer,
}

impl Permit {
    fn new(protocol: &str, from: Option<i32>, to: Option<i32>, peer: Peer) -> Self {
        let ports = (protocol != "-1").then(|| (from.unwrap_or(-1), to.unwrap_or(-1)));
        Self { protocol: protocol.into(), ports, peer }
    }

    fn is_from_a_group(&self) -> bool {
        matches!(self.peer, Peer::Group(_) | Peer::SelfRef)
    }

    /// What the API takes, with the group's own id for `SelfRef`.
    fn permission(&self, own_id: &str) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if let Some((from, to)) = self.ports {
            p = p.from_port(from).to_port(to);
        }
        let group = |id: &str| UserIdGroupPair::builder().group_id(id).build();
        match &self.peer {
            Peer::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).build()),
            Peer::Cidr6(c) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
            Peer::Group(id) => p.user_id_group_pairs(group(id)),
            Peer::SelfRef => p.user_id_group_pairs(group(own_id)),
            Peer::PrefixList(id) => p.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build()),
        }
        .build()
    }
}

/// `tcp:443-443:cidr:10.0.0.0/16`, `all:sg:sg-123`, `tcp:7233-7233:self`: how `plan` shows it.
impl AttrValue for Permit {
    fn text(&self) -> String {
        let peer = match &self.peer {
            Peer::Cidr(c) => format!("cidr:{c}"),
            Peer::Cidr6(c) => format!("cidr6:{c}"),
            Peer::Group(id) => format!("sg:{id}"),
            Peer::SelfRef => "self".into(),
            Peer::PrefixList(id) => format!("pl:{id}"),
        };
        match self.ports {
            None => format!("all:{peer}"),
            Some((from, to)) => format!("{}:{from}-{to}:{peer}", self.protocol),
        }
    }
}

/// Sorted as `plan` shows them.
impl Ord for Permit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text().cmp(&other.text())
    }
}
impl PartialOrd for Permit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub type Permits = BTreeSet<Permit>;

/// `first`, and every group the rules name as a source.
fn group_sources<'a>(first: [&NodeId; 1], rules: impl IntoIterator<Item = &'a Rule>) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = first.into_iter().cloned().collect();
    for rule in rules {
        if let Source::Group(node) | Source::VpcCidr(node) = &rule.source
            && !nodes.contains(node)
        {
            nodes.push(node.clone());
        }
    }
    nodes
}

/// The rules we want, with every group source resolved to its id.
fn resolve(rules: &[Rule], inputs: &Inputs) -> Result<Permits, ResourceError> {
    rules
        .iter()
        .map(|r| {
            let peer = match &r.source {
                Source::Cidr(c) => Peer::Cidr(c.clone()),
                Source::Group(node) => Peer::Group(inputs.get(node, Output::Id)?.to_string()),
                Source::SelfRef => Peer::SelfRef,
                Source::GroupId(id) => Peer::Group(id.clone()),
                Source::VpcCidr(node) => Peer::Cidr(inputs.get(node, Output::Cidr)?.to_string()),
            };
            Ok(Permit::new(r.protocol, Some(r.from), Some(r.to), peer))
        })
        .collect()
}

/// The rules a group has, one per peer.
fn observe(perms: &[IpPermission], own_id: &str) -> Permits {
    let mut out = Permits::new();
    for p in perms {
        let permit = |peer| Permit::new(p.ip_protocol().unwrap_or("-1"), p.from_port(), p.to_port(), peer);
        let text = |s: Option<&str>| s.unwrap_or_default().to_string();
        out.extend(p.ip_ranges().iter().map(|r| permit(Peer::Cidr(text(r.cidr_ip())))));
        out.extend(p.ipv6_ranges().iter().map(|r| permit(Peer::Cidr6(text(r.cidr_ipv6())))));
        out.extend(p.user_id_group_pairs().iter().map(|g| match g.group_id() {
            Some(id) if id == own_id => permit(Peer::SelfRef),
            id => permit(Peer::Group(text(id))),
        }));
        out.extend(p.prefix_list_ids().iter().map(|l| permit(Peer::PrefixList(text(l.prefix_list_id())))));
    }
    out
}

attributes! {
    pub struct SecurityGroupAttrs / SecurityGroupField {
        Vpc vpc: String = "vpc", replace;
        Name name: String = "name", replace;
        Description description: String = "description", replace;
        /// The group's own ingress: CIDRs and prefix lists (group sources are
        /// `SecurityGroupRules`').
        Ingress ingress: Permits = "ingress";
        Egress egress: Permits = "egress";
    }
}

#[async_trait]
impl Kind for SecurityGroup {
    type Attrs = SecurityGroupAttrs;

    fn kind(&self) -> &'static str {
        "security-group"
    }

    fn references(&self) -> Vec<NodeId> {
        group_sources([&self.vpc], self.ingress.iter().chain(&self.egress))
    }

    fn desired(&self, inputs: &Inputs) -> Result<SecurityGroupAttrs, ResourceError> {
        Ok(SecurityGroupAttrs {
            vpc: inputs.get(&self.vpc, Output::Id)?.to_string(),
            name: self.group_name.clone(),
            description: self.description.clone(),
            ingress: resolve(&self.ingress, inputs)?,
            egress: resolve(&self.egress, inputs)?,
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<SecurityGroupAttrs>>, ResourceError> {
        let Some(sg) = find_group(&self.ec2, cx).await? else {
            return Ok(None);
        };
        let id = sg.group_id().unwrap_or_default();
        let text = |s: Option<&str>| s.unwrap_or_default().to_string();
        Ok(Some(Observed::new(id).tags(from_sdk(sg.tags())).found(SecurityGroupAttrs {
            vpc: text(sg.vpc_id()),
            name: text(sg.group_name()),
            description: text(sg.description()),
            ingress: observe(sg.ip_permissions(), id).into_iter().filter(|p| !p.is_from_a_group()).collect(),
            egress: observe(sg.ip_permissions_egress(), id),
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &SecurityGroupAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_security_group()
            .vpc_id(&desired.vpc)
            .group_name(&self.group_name)
            .description(&self.description)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, cx.tags))
            .send()
            .await
            .map_err(aws("CreateSecurityGroup"))?;
        let id = out.group_id().ok_or_else(|| ResourceError::fatal("CreateSecurityGroup returned no id"))?;
        // A new group allows all egress; the rule sets below make it exactly what we want.
        let created = Observed::new(id).tags(cx.tags.clone());
        let all_egress = Permit::new("-1", None, None, Peer::Cidr("0.0.0.0/0".into()));
        let new_group =
            created.clone().found(SecurityGroupAttrs { egress: [all_egress].into(), ..SecurityGroupAttrs::default() });
        let new_group = Owned::created(cx, new_group);
        let fields = [SecurityGroupField::Ingress, SecurityGroupField::Egress];
        on_new_id(|| self.update(cx, &new_group, desired, &fields)).await?;
        Ok(created)
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<SecurityGroupAttrs>>,
        desired: &SecurityGroupAttrs,
        changed: &[SecurityGroupField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                SecurityGroupField::Ingress => {
                    sync_rules(&self.ec2, &o.id, Direction::Ingress, &o.attrs.ingress, &desired.ingress).await?
                }
                SecurityGroupField::Egress => {
                    sync_rules(&self.ec2, &o.id, Direction::Egress, &o.attrs.egress, &desired.egress).await?
                }
                SecurityGroupField::Vpc | SecurityGroupField::Name | SecurityGroupField::Description => {
                    return Err(replaced_not_updated("security-group", field));
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    fn placed_in(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<SecurityGroupAttrs>>) -> Result<(), ResourceError> {
        match self.ec2.delete_security_group().group_id(&o.id).send().await.map_err(aws("DeleteSecurityGroup")) {
            Ok(_) => Ok(()),
            Err(e) => Err(name_blockers(&self.ec2, "group-id", &o.id, e).await),
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

/// Authorize what `desired` adds to `observed` and revoke what it drops.
async fn sync_rules(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    direction: Direction,
    observed: &Permits,
    desired: &Permits,
) -> Result<(), ResourceError> {
    let perms = |rules: std::collections::btree_set::Difference<'_, Permit>| {
        rules.map(|r| r.permission(group)).collect::<Vec<_>>()
    };
    let (add, remove) = (perms(desired.difference(observed)), perms(observed.difference(desired)));
    // Each direction and verb is its own API call with the same shape.
    macro_rules! send {
        ($call:ident, $op:literal, $perms:expr) => {
            ec2.$call().group_id(group).set_ip_permissions(Some($perms)).send().await.map_err(aws($op)).map(drop)
        };
    }
    match (direction, add.is_empty()) {
        (_, true) => Ok(()),
        (Direction::Egress, false) => send!(authorize_security_group_egress, "AuthorizeSecurityGroupEgress", add),
        (Direction::Ingress, false) => send!(authorize_security_group_ingress, "AuthorizeSecurityGroupIngress", add),
    }?;
    match (direction, remove.is_empty()) {
        (_, true) => Ok(()),
        (Direction::Egress, false) => send!(revoke_security_group_egress, "RevokeSecurityGroupEgress", remove),
        (Direction::Ingress, false) => send!(revoke_security_group_ingress, "RevokeSecurityGroupIngress", remove),
    }
}

/// Ingress between the stack's groups, kept apart from the groups themselves so that
/// groups which admit each other form no dependency cycle (seed 002's Temporal services).
pub struct SecurityGroupRules {
    pub ec2: Ec2,
    /// The group these rules belong to.
    pub group: NodeId,
    /// Every source is a group: `Source::Group`, `Source::SelfRef` or `Source::GroupId`.
    pub ingress: Vec<Rule>,
}

attributes! {
    pub struct SecurityGroupRulesAttrs / SecurityGroupRulesField {
        /// The group the rules are on.
        Group group: String = "group", replace;
        Ingress ingress: Permits = "ingress";
    }
}

#[async_trait]
impl Kind for SecurityGroupRules {
    type Attrs = SecurityGroupRulesAttrs;

    fn kind(&self) -> &'static str {
        "security-group-rules"
    }

    fn references(&self) -> Vec<NodeId> {
        group_sources([&self.group], &self.ingress)
    }

    fn desired(&self, inputs: &Inputs) -> Result<SecurityGroupRulesAttrs, ResourceError> {
        Ok(SecurityGroupRulesAttrs {
            group: inputs.get(&self.group, Output::Id)?.to_string(),
            ingress: resolve(&self.ingress, inputs)?,
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<SecurityGroupRulesAttrs>>, ResourceError> {
        // The rules live on the group: find it by our recorded id, else by its own tags.
        let group_cx = Cx { node: &self.group, ..*cx };
        let Some(sg) = find_group(&self.ec2, &group_cx).await? else {
            return Ok(None);
        };
        let id = sg.group_id().unwrap_or_default();
        // Rules carry no tags of their own: they are ours when their group is.
        let tags = inherited_tags(from_sdk(sg.tags()), cx);
        let ingress: Permits = observe(sg.ip_permissions(), id).into_iter().filter(Permit::is_from_a_group).collect();
        // No rule of ours on the group: there is nothing to update or revoke.
        if ingress.is_empty() {
            return Ok(None);
        }
        Ok(Some(Observed::new(id).tags(tags).found(SecurityGroupRulesAttrs { group: id.into(), ingress })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &SecurityGroupRulesAttrs) -> Result<Observed, ResourceError> {
        // `read` found none of our rules, so all of them are to be added.
        sync_rules(&self.ec2, &desired.group, Direction::Ingress, &Permits::new(), &desired.ingress).await?;
        Ok(Observed::new(&desired.group).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<SecurityGroupRulesAttrs>>,
        desired: &SecurityGroupRulesAttrs,
        changed: &[SecurityGroupRulesField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                SecurityGroupRulesField::Ingress => {
                    sync_rules(&self.ec2, &o.id, Direction::Ingress, &o.attrs.ingress, &desired.ingress).await?
                }
                SecurityGroupRulesField::Group => return Err(replaced_not_updated("security-group-rules", field)),
            }
        }
        Ok(())
    }

    /// The rules carry their group's tags, which the group's own node repairs.
    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<SecurityGroupRulesAttrs>>) -> Result<(), ResourceError> {
        // Groups that reference each other cannot be deleted until these rules go.
        gone_is_ok(sync_rules(&self.ec2, &o.id, Direction::Ingress, &o.attrs.ingress, &Permits::new()).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_we_want_and_rules_aws_holds_meet_in_one_form() {
        let mut inputs = Inputs::default();
        inputs.insert("security-group/other", [("id".to_string(), "sg-9".to_string())].into());
        let rules = vec![
            Rule::tcp(443, Source::Cidr("10.0.0.0/16".into())),
            Rule::tcp_range(7233, 7239, Source::SelfRef),
            Rule::all(Source::Group("security-group/other".into())),
        ];
        let wanted = resolve(&rules, &inputs).unwrap();
        assert_eq!(wanted.text(), "all:sg:sg-9,tcp:443-443:cidr:10.0.0.0/16,tcp:7233-7239:self");
        let perms: Vec<IpPermission> = wanted.iter().map(|p| p.permission("sg-1")).collect();
        assert_eq!(observe(&perms, "sg-1"), wanted);
    }

    #[test]
    fn rules_others_added_can_be_revoked_whatever_their_peer() {
        let drift = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
            .prefix_list_ids(PrefixListId::builder().prefix_list_id("pl-1").build())
            .build();
        let seen = observe(std::slice::from_ref(&drift), "sg-1");
        assert_eq!(seen.text(), "tcp:22-22:cidr6:::/0,tcp:22-22:pl:pl-1");
        let back: Vec<IpPermission> = seen.iter().map(|p| p.permission("sg-1")).collect();
        assert_eq!(observe(&back, "sg-1"), seen);
    }
}
