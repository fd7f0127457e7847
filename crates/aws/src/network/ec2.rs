//! What every EC2 resource shares: tags at creation, lookups by id or by ownership tags,
//! and tag repair.

use std::future::Future;
use std::ops::Deref;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use temporalctl_engine::{Cx, ResourceError, TAG_NODE, TAG_PROJECT, Tags, claim};

use crate::errors::aws;
use crate::listings::Listings;

/// The EC2 client, with the run's listings for first looks.
#[derive(Clone, Debug)]
pub struct Ec2 {
    pub client: aws_sdk_ec2::Client,
    pub listings: Listings,
}

impl Deref for Ec2 {
    type Target = aws_sdk_ec2::Client;
    fn deref(&self) -> &aws_sdk_ec2::Client {
        &self.client
    }
}

/// Our tags at creation, for `TagSpecifications`.
pub fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).set_tags(Some(to_tags(tags))).build()
}

/// EC2's tag builder cannot fail (key and value are optional in its model), unlike the
/// other services' (`crate::tags::sdk_tags!`).
fn to_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// How a resource is looked up.
pub enum Query {
    Id(String),
    Owned(Vec<Filter>),
}

/// Find the node's resource: by its recorded id when there is one and it still exists,
/// else by the ownership tags. `alive` drops lifecycle states that mean gone. A first
/// look comes from the run's listing of `kind` (everything with the project's tag) when
/// the engine allows it; what the listing lacks (a recorded id whose tags are gone) is
/// then looked up as usual.
pub async fn find<T, F, Fut>(
    cx: &Cx<'_>,
    listings: &Listings,
    kind: &'static str,
    describe: F,
    alive: fn(&T) -> bool,
    id_of: fn(&T) -> Option<&str>,
    tags_of: fn(&T) -> &[Tag],
) -> Result<Option<T>, ResourceError>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(Query) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ResourceError>>,
{
    let by_tags = |node: Option<&str>| {
        let mut filters = vec![filter(&format!("tag:{TAG_PROJECT}"), cx.project)];
        filters.extend(node.map(|n| filter(&format!("tag:{TAG_NODE}"), n)));
        Query::Owned(filters)
    };
    if cx.may_read_from_listing {
        let listed = listings.get(kind, || describe(by_tags(None))).await?;
        let live = listed.iter().filter(|t| alive(t));
        let node_tag = |t: &&T| tags_of(t).iter().any(|g| g.key() == Some(TAG_NODE) && g.value() == Some(cx.node));
        let mut claimants: Vec<T> = live.clone().filter(node_tag).cloned().collect();
        let Some(id) = cx.recorded_id else { return claim(claimants, kind, cx, id_of) };
        if let Some(found) = live.clone().find(|t| id_of(t) == Some(id)) {
            // The recorded one, and any other resource carrying this node's tags: a
            // conflict to report before anything is changed.
            if !claimants.iter().any(|c| id_of(c) == Some(id)) {
                claimants.push(found.clone());
            }
            return claim(claimants, kind, cx, id_of);
        }
    }
    if let Some(id) = cx.recorded_id {
        match describe(Query::Id(id.to_string())).await {
            Ok(items) => {
                let items: Vec<T> = items.into_iter().filter(alive).collect();
                if !items.is_empty() || cx.follow_id {
                    return claim(items, kind, cx, id_of);
                }
            }
            // A wait follows its id: gone is gone, whatever else carries the tags.
            Err(e) if e.is_not_found() && cx.follow_id => return Ok(None),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let items: Vec<T> = describe(by_tags(Some(cx.node))).await?.into_iter().filter(alive).collect();
    claim(items, kind, cx, id_of)
}

/// The describe half of [`find`] for EC2's `Describe*` calls, which all take an id list
/// or filters and answer with a list, over as many pages as AWS returns:
/// `lookup!(cx, &self.ec2.listings, "VPC", self.ec2.describe_vpcs(), vpc_ids, set_filters, vpcs, "DescribeVpcs", alive, id_of)`.
/// `lookup!(single: …)` is for the few calls with no pages (`DescribeAddresses`).
macro_rules! lookup {
    (single: $($rest:tt)*) => { $crate::network::ec2::lookup!(@with one_page, $($rest)*) };
    (@with $pages:ident, $cx:expr, $listings:expr, $kind:literal, $request:expr, $by_id:ident, $by_filters:ident, $list:ident, $op:literal, $alive:expr, $id_of:expr) => {
        $crate::network::ec2::find(
            $cx,
            $listings,
            $kind,
            |q| async {
                let req = match q {
                    $crate::network::ec2::Query::Id(id) => $request.$by_id(id),
                    $crate::network::ec2::Query::Owned(f) => $request.$by_filters(Some(f)),
                };
                Ok($crate::pages::$pages!(req, $list, $op))
            },
            $alive,
            $id_of,
            |t| t.tags(),
        )
        .await
    };
    ($($rest:tt)*) => { $crate::network::ec2::lookup!(@with all_pages, $($rest)*) };
}
pub(crate) use lookup;

/// Put the desired tags on (values are overwritten; tags others added are left alone).
pub async fn ensure_tags(ec2: &aws_sdk_ec2::Client, id: &str, tags: &Tags) -> Result<(), ResourceError> {
    ec2.create_tags().resources(id).set_tags(Some(to_tags(tags))).send().await.map_err(aws("CreateTags"))?;
    Ok(())
}

/// When a delete meets `DependencyViolation`, name the network interfaces still in the
/// way (`filter`: `subnet-id`, `group-id` or `vpc-id`), so the wait says what it waits
/// for: task ENIs linger for minutes after their task stops, and OpenSearch's for longer.
pub async fn name_blockers(ec2: &aws_sdk_ec2::Client, filter_name: &str, id: &str, e: ResourceError) -> ResourceError {
    if e.code.as_deref() != Some("DependencyViolation") {
        return e;
    }
    let found = ec2.describe_network_interfaces().filters(filter(filter_name, id)).send().await;
    let Ok(found) = found else { return e };
    let enis: Vec<String> = found
        .network_interfaces()
        .iter()
        .take(5)
        .map(|n| {
            let what =
                n.description().filter(|d| !d.is_empty()).or(n.interface_type().map(|t| t.as_str())).unwrap_or("?");
            format!(
                "{} ({what}, {})",
                n.network_interface_id().unwrap_or("?"),
                n.status().map(|s| s.as_str()).unwrap_or("?")
            )
        })
        .collect();
    if enis.is_empty() {
        return e;
    }
    let more = found.network_interfaces().len().saturating_sub(enis.len());
    ResourceError {
        message: format!(
            "{}; blocked by {}{}",
            e.message,
            enis.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ),
        ..e
    }
}
