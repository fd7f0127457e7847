//! Elastic Load Balancing v2: balancers, target groups and listeners, one kind each, made
//! with the settings of `documents::balancer` (the frontend's internal Network Load
//! Balancer, `frontend.endpoint`). ELBv2 names are unique per account and region, and ours
//! are fixed by the project, so each is found by its name. The walk's first look reads a
//! balancer's whole [`Family`] at once ([`first_look`]: one call per resource kind and
//! target group, one `DescribeTags` for every ARN); a look after a change reads the one
//! resource (its describe and its tags).

pub mod certificate;
pub mod dns;
pub mod listener;
pub mod load_balancer;
pub mod login;
pub mod rule;
pub mod target_group;

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, ProtocolEnum, Rule, Tag, TargetGroup};
use temporalctl_engine::{Cx, ResourceError, Tags};

use crate::errors::{absent_if_gone, aws};
use crate::listings::Listings;
use crate::tags::{from_sdk, sdk_tags};

pub type Elb = aws_sdk_elasticloadbalancingv2::Client;

/// The tags of one balancer, target group or listener.
pub(crate) async fn tags_of(elb: &Elb, arn: &str) -> Result<Tags, ResourceError> {
    let out = elb.describe_tags().resource_arns(arn).send().await.map_err(aws("DescribeTags"))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .find(|d| d.resource_arn() == Some(arn))
        .map(|d| from_sdk(d.tags()))
        .unwrap_or_default())
}

/// Our tags in ELBv2's type, for a create.
pub(crate) fn elb_tags(tags: &Tags) -> Vec<Tag> {
    sdk_tags!(infallible Tag, tags)
}

/// Add or overwrite `tags` on one resource; others' tags stay.
pub(crate) async fn ensure_tags(elb: &Elb, arn: &str, tags: &Tags) -> Result<(), ResourceError> {
    elb.add_tags().resource_arns(arn).set_tags(Some(elb_tags(tags))).send().await.map_err(aws("AddTags"))?;
    Ok(())
}

/// Which resources one walk's first look reads together: a balancer, by its name, and the
/// target groups its listeners forward to, by theirs (ELBv2 names are unique per account
/// and region, and ours are fixed by the project).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub balancer: String,
    pub target_groups: Vec<String>,
}

/// A balancer, its target groups and its listeners, with the tags of each by ARN.
#[derive(Debug, Clone, Default)]
pub(crate) struct Look {
    pub load_balancer: Option<LoadBalancer>,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
    /// The rules of its HTTP(S) listeners, default rules left out.
    pub rules: Vec<Rule>,
    pub tags: BTreeMap<String, Tags>,
}

impl Look {
    pub fn tags_of(&self, arn: &str) -> Tags {
        self.tags.get(arn).cloned().unwrap_or_default()
    }

    pub fn target_group(&self, name: &str) -> Option<TargetGroup> {
        self.target_groups.iter().find(|tg| tg.target_group_name() == Some(name)).cloned()
    }
}

/// The balancer of this name, if it exists.
pub(crate) async fn balancer_named(elb: &Elb, name: &str) -> Result<Option<LoadBalancer>, ResourceError> {
    let lbs = elb.describe_load_balancers().names(name).send().await.map_err(aws("DescribeLoadBalancers"));
    Ok(absent_if_gone(lbs)?.and_then(|out| out.load_balancers().first().cloned()))
}

/// The listeners of the balancer of this name (none when it does not exist).
pub(crate) async fn listeners_of(elb: &Elb, balancer: &str) -> Result<Vec<Listener>, ResourceError> {
    let Some(arn) = balancer_named(elb, balancer).await?.and_then(|lb| lb.load_balancer_arn) else {
        return Ok(Vec::new());
    };
    let ls = elb.describe_listeners().load_balancer_arn(arn).send().await.map_err(aws("DescribeListeners"));
    Ok(absent_if_gone(ls)?.map(|out| out.listeners().to_vec()).unwrap_or_default())
}

/// Everything of a family: one describe of the balancer, one per target group (a missing
/// name would fail a describe of several), its listeners, and one `DescribeTags` for all.
async fn look(elb: &Elb, family: &Family) -> Result<Look, ResourceError> {
    let load_balancer = balancer_named(elb, &family.balancer).await?;
    let mut target_groups = Vec::new();
    for name in &family.target_groups {
        let tgs = elb.describe_target_groups().names(name).send().await.map_err(aws("DescribeTargetGroups"));
        target_groups.extend(absent_if_gone(tgs)?.and_then(|out| out.target_groups().first().cloned()));
    }
    let mut listeners = Vec::new();
    if let Some(arn) = load_balancer.as_ref().and_then(|lb| lb.load_balancer_arn()) {
        let ls = elb.describe_listeners().load_balancer_arn(arn).send().await.map_err(aws("DescribeListeners"));
        listeners = absent_if_gone(ls)?.map(|out| out.listeners().to_vec()).unwrap_or_default();
    }
    // Only an Application Load Balancer's listeners have rules of ours (a TCP one has none).
    let mut rules = Vec::new();
    for l in listeners.iter().filter(|l| l.protocol() == Some(&ProtocolEnum::Https)) {
        let rs = elb.describe_rules().listener_arn(l.listener_arn().unwrap_or_default()).send().await;
        let found = absent_if_gone(rs.map_err(aws("DescribeRules")))?.map(|out| out.rules().to_vec());
        rules.extend(found.unwrap_or_default().into_iter().filter(|r| r.is_default() != Some(true)));
    }
    let arns: Vec<String> = load_balancer
        .iter()
        .filter_map(|lb| lb.load_balancer_arn())
        .chain(target_groups.iter().filter_map(|tg| tg.target_group_arn()))
        .chain(listeners.iter().filter_map(|l| l.listener_arn()))
        .chain(rules.iter().filter_map(|r| r.rule_arn()))
        .map(String::from)
        .collect();
    let mut tags = BTreeMap::new();
    // DescribeTags takes 20 ARNs: a family of ours has fewer.
    if !arns.is_empty() {
        let out = elb.describe_tags().set_resource_arns(Some(arns)).send().await.map_err(aws("DescribeTags"))?;
        for d in out.tag_descriptions() {
            tags.insert(d.resource_arn().unwrap_or_default().to_string(), from_sdk(d.tags()));
        }
    }
    Ok(Look { load_balancer, target_groups, listeners, rules, tags })
}

/// One resource of a family and its tags: from the walk's first look when the engine
/// allows it (`pick` finds it there), else by `fresh` and one `DescribeTags`.
pub(crate) async fn find<T, Fut>(
    cx: &Cx<'_>,
    (listings, elb, family): (&Listings, &Elb, &Family),
    pick: impl FnOnce(&Look) -> Option<T>,
    arn_of: impl Fn(&T) -> Option<&str>,
    fresh: impl FnOnce() -> Fut,
) -> Result<Option<(T, Tags)>, ResourceError>
where
    Fut: std::future::Future<Output = Result<Option<T>, ResourceError>>,
{
    if let Some(all) = first_look(cx, listings, elb, family).await? {
        return Ok(pick(&all).map(|t| {
            let tags = all.tags_of(arn_of(&t).unwrap_or_default());
            (t, tags)
        }));
    }
    let Some(t) = fresh().await? else { return Ok(None) };
    let tags = tags_of(elb, arn_of(&t).unwrap_or_default()).await?;
    Ok(Some((t, tags)))
}

/// The walk's first look at a family, shared by its members; `None` when this read must
/// be fresh (`Cx::may_read_from_listing`).
async fn first_look(
    cx: &Cx<'_>,
    listings: &Listings,
    elb: &Elb,
    family: &Family,
) -> Result<Option<Look>, ResourceError> {
    if !cx.may_read_from_listing {
        return Ok(None);
    }
    let key = format!("elbv2 {}", family.balancer);
    let all = listings.get(&key, || async { Ok(vec![look(elb, family).await?]) }).await?;
    Ok(all.first().cloned())
}
