//! A security group and its rules. Rules are compared in a canonical form, one rule per
//! source, so drift (a rule removed or added out of band) is repaired rule by rule.

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, inherited_tags};

use super::ec2::{Ec2, attr, ensure_tags, lookup, members, name_blockers, set, set_delta, tag_map, tag_spec};
use crate::errors::{aws, gone_is_ok, on_new_id};

#[derive(Debug, Clone)]
pub enum Source {
    Cidr(String),
    /// Another security group of the stack, by node.
    Group(NodeId),
    /// Members of this same group.
    SelfRef,
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

/// `tcp:443-443:cidr:10.0.0.0/16`, `all:sg:sg-123`, `tcp:7233-7233:self`.
fn canonical(protocol: &str, from: Option<i32>, to: Option<i32>, source: &str) -> String {
    if protocol == "-1" {
        format!("all:{source}")
    } else {
        format!("{protocol}:{}-{}:{source}", from.unwrap_or(-1), to.unwrap_or(-1))
    }
}

fn render(rules: &[Rule], inputs: &Inputs) -> Result<String, ResourceError> {
    let mut out = Vec::new();
    for r in rules {
        let source = match &r.source {
            Source::Cidr(c) => format!("cidr:{c}"),
            Source::Group(node) => format!("sg:{}", inputs.get(node, "id")?),
            Source::SelfRef => "self".into(),
        };
        out.push(canonical(r.protocol, Some(r.from), Some(r.to), &source));
    }
    Ok(set(out.iter().map(String::as_str)))
}

fn observe(perms: &[IpPermission], own_id: &str) -> String {
    let mut out = Vec::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1");
        for r in p.ip_ranges() {
            out.push(canonical(
                proto,
                p.from_port(),
                p.to_port(),
                &format!("cidr:{}", r.cidr_ip().unwrap_or_default()),
            ));
        }
        for r in p.ipv6_ranges() {
            out.push(canonical(
                proto,
                p.from_port(),
                p.to_port(),
                &format!("cidr6:{}", r.cidr_ipv6().unwrap_or_default()),
            ));
        }
        for g in p.user_id_group_pairs() {
            let gid = g.group_id().unwrap_or_default();
            let source = if gid == own_id { "self".to_string() } else { format!("sg:{gid}") };
            out.push(canonical(proto, p.from_port(), p.to_port(), &source));
        }
        for pl in p.prefix_list_ids() {
            out.push(canonical(
                proto,
                p.from_port(),
                p.to_port(),
                &format!("pl:{}", pl.prefix_list_id().unwrap_or_default()),
            ));
        }
    }
    set(out.iter().map(String::as_str))
}

/// Back from the canonical form to what the API takes.
fn permission(rule: &str, own_id: &str) -> Result<IpPermission, ResourceError> {
    let bad = || ResourceError::fatal(format!("cannot express rule `{rule}`"));
    let (proto, rest) = rule.split_once(':').ok_or_else(bad)?;
    let (proto, ports, source) = if proto == "all" {
        ("-1", None, rest)
    } else {
        let (ports, source) = rest.split_once(':').ok_or_else(bad)?;
        let (from, to) = ports.split_once('-').ok_or_else(bad)?;
        (proto, Some((from.parse::<i32>().map_err(|_| bad())?, to.parse::<i32>().map_err(|_| bad())?)), source)
    };
    let mut p = IpPermission::builder().ip_protocol(proto);
    if let Some((from, to)) = ports {
        p = p.from_port(from).to_port(to);
    }
    p = match source.split_once(':') {
        Some(("cidr", cidr)) => p.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        Some(("sg", gid)) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(gid).build()),
        None if source == "self" => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(own_id).build()),
        _ => return Err(bad()),
    };
    Ok(p.build())
}

#[async_trait]
impl Resource for SecurityGroup {
    fn kind(&self) -> &'static str {
        "security-group"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("vpc".into(), inputs.get(&self.vpc, "id")?.to_string()),
            ("name".into(), self.group_name.clone()),
            ("description".into(), self.description.clone()),
            ("ingress".into(), render(&self.ingress, inputs)?),
            ("egress".into(), render(&self.egress, inputs)?),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["vpc", "name", "description"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let Some(sg) = find_group(&self.ec2, cx).await? else {
            return Ok(None);
        };
        let id = sg.group_id().unwrap_or_default();
        Ok(Some(
            Observed::new(id)
                .attr("vpc", sg.vpc_id().unwrap_or_default())
                .attr("name", sg.group_name().unwrap_or_default())
                .attr("description", sg.description().unwrap_or_default())
                .attr("ingress", scoped(&observe(sg.ip_permissions(), id), false))
                .attr("egress", observe(sg.ip_permissions_egress(), id))
                .tags(tag_map(sg.tags())),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_security_group()
            .vpc_id(attr(desired, "vpc")?)
            .group_name(&self.group_name)
            .description(&self.description)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, cx.tags))
            .send()
            .await
            .map_err(aws("CreateSecurityGroup"))?;
        let id = out.group_id().ok_or_else(|| ResourceError::fatal("CreateSecurityGroup returned no id"))?;
        // A new group allows all egress; the rule sets below make it exactly what we want.
        let created = Observed::new(id).attr("ingress", "").attr("egress", "all:cidr:0.0.0.0/0").tags(cx.tags.clone());
        let fields = ["ingress".to_string(), "egress".to_string()];
        on_new_id(|| self.update(cx, &created, desired, &fields)).await?;
        Ok(created)
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        for field in changed {
            let egress = match field.as_str() {
                "ingress" => false,
                "egress" => true,
                "tags" => {
                    ensure_tags(&self.ec2, &o.id, cx.tags).await?;
                    continue;
                }
                _ => continue,
            };
            sync_rules(&self.ec2, &o.id, egress, o.attrs.get(field), attr(desired, field)?).await?;
        }
        Ok(())
    }

    fn placed_in(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        match self.ec2.delete_security_group().group_id(&o.id).send().await.map_err(aws("DeleteSecurityGroup")) {
            Ok(_) => Ok(()),
            Err(e) => Err(name_blockers(&self.ec2, "group-id", &o.id, e).await),
        }
    }
}

/// Authorize what `desired` adds to `observed` and revoke what it drops.
async fn sync_rules(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    egress: bool,
    observed: Option<&String>,
    desired: &str,
) -> Result<(), ResourceError> {
    let (add, remove) = set_delta(observed, desired);
    let to_perms = |rules: Vec<String>| rules.iter().map(|r| permission(r, group)).collect::<Result<Vec<_>, _>>();
    let (add, remove) = (to_perms(add)?, to_perms(remove)?);
    // Each direction and verb is its own API call with the same shape.
    macro_rules! send {
        ($call:ident, $op:literal, $perms:expr) => {
            ec2.$call().group_id(group).set_ip_permissions(Some($perms)).send().await.map_err(aws($op)).map(drop)
        };
    }
    match (egress, add.is_empty()) {
        (_, true) => Ok(()),
        (true, false) => send!(authorize_security_group_egress, "AuthorizeSecurityGroupEgress", add),
        (false, false) => send!(authorize_security_group_ingress, "AuthorizeSecurityGroupIngress", add),
    }?;
    match (egress, remove.is_empty()) {
        (_, true) => Ok(()),
        (true, false) => send!(revoke_security_group_egress, "RevokeSecurityGroupEgress", remove),
        (false, false) => send!(revoke_security_group_ingress, "RevokeSecurityGroupIngress", remove),
    }
}

/// Split a rule set: rules whose source is another group (or the group itself) belong
/// to a [`SecurityGroupRules`] node, the others (CIDRs, prefix lists) to the group's own.
fn scoped(rules: &str, group_sources: bool) -> String {
    let is_group = |r: &&str| r.contains(":sg:") || r.ends_with(":self");
    set(members(rules).iter().map(String::as_str).filter(|r| is_group(r) == group_sources))
}

/// Ingress between the stack's groups, kept apart from the groups themselves so that
/// groups which admit each other form no dependency cycle (seed 002's Temporal services).
pub struct SecurityGroupRules {
    pub ec2: Ec2,
    /// The group these rules belong to.
    pub group: NodeId,
    /// Every source is a `Source::Group` or `Source::SelfRef`.
    pub ingress: Vec<Rule>,
}

#[async_trait]
impl Resource for SecurityGroupRules {
    fn kind(&self) -> &'static str {
        "security-group-rules"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("group".into(), inputs.get(&self.group, "id")?.to_string()),
            ("ingress".into(), render(&self.ingress, inputs)?),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["group"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        // The rules live on the group: find it by our recorded id, else by its own tags.
        let group_cx = Cx { node: &self.group, ..*cx };
        let Some(sg) = find_group(&self.ec2, &group_cx).await? else {
            return Ok(None);
        };
        let id = sg.group_id().unwrap_or_default();
        // Rules carry no tags of their own: they are ours when their group is.
        let tags = inherited_tags(tag_map(sg.tags()), cx);
        let ingress = scoped(&observe(sg.ip_permissions(), id), true);
        // No rule of ours on the group: there is nothing to update or revoke.
        if ingress.is_empty() {
            return Ok(None);
        }
        Ok(Some(Observed::new(id).attr("group", id).attr("ingress", ingress).tags(tags)))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        // `read` found none of our rules, so all of them are to be added.
        let group = attr(desired, "group")?;
        sync_rules(&self.ec2, group, false, None, attr(desired, "ingress")?).await?;
        Ok(Observed::new(group).tags(cx.tags.clone()))
    }

    async fn update(&self, _: &Cx<'_>, o: &Observed, desired: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c == "ingress") {
            sync_rules(&self.ec2, &o.id, false, o.attrs.get("ingress"), attr(desired, "ingress")?).await?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        // Groups that reference each other cannot be deleted until these rules go.
        gone_is_ok(sync_rules(&self.ec2, &o.id, false, o.attrs.get("ingress"), "").await)
    }
}

/// Every ingress rule's source, for the property tests (never 0.0.0.0/0).
pub fn ingress_sources(o: &Observed) -> Vec<String> {
    members(o.attrs.get("ingress").map(String::as_str).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_the_canonical_form() {
        let mut inputs = Inputs::default();
        inputs.insert("security-group/other", [("id".to_string(), "sg-9".to_string())].into());
        let rules = vec![
            Rule::tcp(443, Source::Cidr("10.0.0.0/16".into())),
            Rule::tcp_range(7233, 7239, Source::SelfRef),
            Rule::all(Source::Group("security-group/other".into())),
        ];
        let text = render(&rules, &inputs).unwrap();
        assert_eq!(text, "all:sg:sg-9,tcp:443-443:cidr:10.0.0.0/16,tcp:7233-7239:self");
        let perms: Vec<IpPermission> = members(&text).iter().map(|r| permission(r, "sg-1").unwrap()).collect();
        assert_eq!(observe(&perms, "sg-1"), text);
    }
}
