//! The ingress's records in the user's Route 53 zone (`ingress.hosted_zone_id`): the
//! alias of each host name to the balancer (`dns-alias-records`), and, for a certificate
//! temporalctl requests, its DNS validation records (`dns-validation-records`).
//!
//! Route 53 records carry no tags, so ownership is by what a record is:
//! - an alias `A` record is ours when it points at our balancer (its DNS name starts with
//!   the balancer's name, unique in the account and region, and the balancer carries our
//!   tags). Any other record at a host name is the user's: `up` stops naming it and never
//!   overwrites it; `down` deletes only aliases pointing at our balancer.
//! - ACM's validation CNAMEs (`_<hash>.<host>` → `…acm-validations.aws.`) are written with
//!   UPSERT and never deleted: ACM renews the certificate with them, and another
//!   certificate for the same names uses the same record (ACM user guide, "DNS
//!   validation").
//!
//! Reads: one `ListResourceRecordSets` per host name, starting at it, which also holds its
//! validation record (`_…` sorts right after the name in Route 53's reversed-label order);
//! a first look shares it between both nodes. API facts: Route 53 API reference,
//! `ChangeResourceRecordSets` (a batch is all or nothing; DELETE needs the values as they
//! are), `AliasTarget` (all three fields; `HostedZoneId` is the balancer's
//! `CanonicalHostedZoneId`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes};

use crate::errors::aws;
use crate::listings::Listings;
use crate::outputs::Output;

pub type Route53 = aws_sdk_route53::Client;

/// How many record sets one look at a host name reads: the name's own, then its children.
const PAGE: i32 = 20;

/// The TTL of validation records (ACM's console writes 300).
const VALIDATION_TTL: i64 = 300;

/// `Temporal.Example.com.` → `temporal.example.com`.
pub fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The record sets at and right after `host` in `zone`, and whether more followed.
#[derive(Debug, Clone)]
struct Page {
    sets: Vec<ResourceRecordSet>,
    truncated: bool,
}

/// Where a node reads its records: the zone and its host names.
#[derive(Clone)]
pub struct Zone {
    pub r53: Route53,
    pub listings: Listings,
    pub id: String,
}

impl Zone {
    async fn page(
        &self,
        may_list: bool,
        start: &str,
        start_type: Option<RrType>,
        size: i32,
    ) -> Result<Page, ResourceError> {
        let fetch = || async {
            let out = self
                .r53
                .list_resource_record_sets()
                .hosted_zone_id(&self.id)
                .start_record_name(start)
                .set_start_record_type(start_type.clone())
                .max_items(size)
                .send()
                .await
                .map_err(aws("ListResourceRecordSets"))?;
            Ok(vec![Page { sets: out.resource_record_sets().to_vec(), truncated: out.is_truncated() }])
        };
        let pages: Arc<Vec<Page>> = if may_list {
            self.listings.get(&format!("route53:{}:{start}", self.id), fetch).await?
        } else {
            Arc::new(fetch().await?)
        };
        Ok(pages.first().cloned().unwrap_or(Page { sets: Vec::new(), truncated: false }))
    }

    /// The record sets of `host` and its children, as far as one page shows them.
    async fn around(&self, may_list: bool, host: &str) -> Result<Page, ResourceError> {
        self.page(may_list, host, None, PAGE).await
    }

    /// The set named `name` of type `kind`: from `host`'s page, else asked for directly
    /// when the page stopped before it.
    async fn set(
        &self,
        may_list: bool,
        host: &str,
        name: &str,
        kind: RrType,
    ) -> Result<Option<ResourceRecordSet>, ResourceError> {
        let is_it = |s: &ResourceRecordSet| normalized(s.name()) == normalized(name) && s.r#type() == &kind;
        let page = self.around(may_list, host).await?;
        if let Some(found) = page.sets.iter().find(|s| is_it(s)) {
            return Ok(Some(found.clone()));
        }
        if !page.truncated {
            return Ok(None);
        }
        Ok(self.page(false, name, Some(kind.clone()), 1).await?.sets.into_iter().find(is_it))
    }

    async fn change(&self, changes: Vec<Change>, why: &str) -> Result<(), ResourceError> {
        if changes.is_empty() {
            return Ok(());
        }
        let batch = ChangeBatch::builder()
            .comment(why)
            .set_changes(Some(changes))
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        self.r53
            .change_resource_record_sets()
            .hosted_zone_id(&self.id)
            .change_batch(batch)
            .send()
            .await
            .map_err(aws("ChangeResourceRecordSets"))?;
        Ok(())
    }
}

fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, ResourceError> {
    Change::builder().action(action).resource_record_set(set).build().map_err(|e| ResourceError::fatal(e.to_string()))
}

/// The alias of each host name to the ingress balancer.
pub struct AliasRecords {
    pub zone: Zone,
    pub hosts: Vec<String>,
    pub balancer: NodeId,
    /// The balancer's name and region: an alias to its DNS name is ours.
    pub balancer_name: String,
    pub region: String,
}

attributes! {
    pub struct AliasRecordsAttrs / AliasRecordsField {
        /// Where the records are: another zone or other names are other records (the
        /// old ones deleted, as the state recorded them).
        Zone zone: String = "zone", replace;
        Hosts hosts: BTreeSet<String> = "hosts", replace;
        /// Host name → the DNS name its alias points at.
        Targets targets: BTreeMap<String, String> = "targets";
        /// Host names holding a record that is not ours: never overwritten.
        Foreign foreign: BTreeSet<String> = "records-not-ours";
    }
}

/// Where a records node's records are: as the state recorded them, else as deploy.yaml
/// says (a node retired from deploy.yaml still reads and deletes in the right zone).
fn place(zone: &Zone, hosts: &[String], recorded: Option<&str>) -> (Zone, Vec<String>) {
    match recorded_place(recorded) {
        Some((id, hosts)) => (Zone { id, ..zone.clone() }, hosts),
        None => (zone.clone(), hosts.to_vec()),
    }
}

/// The zone and host names the state records for a records node (`<zone>/<h1>,<h2>`).
fn recorded_place(recorded: Option<&str>) -> Option<(String, Vec<String>)> {
    let (zone, hosts) = recorded?.split_once('/')?;
    let hosts = hosts.split_once('/').map_or(hosts, |(_, h)| h);
    Some((zone.to_string(), hosts.split(',').filter(|h| !h.is_empty()).map(str::to_string).collect()))
}

impl AliasRecords {
    /// Whether an alias target is our balancer: `[dualstack.][internal-]<name>-<id>.<region>.elb.amazonaws.com`,
    /// `<id>` a single label part (another balancer's name cannot pass for ours).
    fn is_ours(&self, target: &str) -> bool {
        let target = normalized(target);
        let bare = target.strip_prefix("dualstack.").unwrap_or(&target);
        let Some(first) = bare.strip_suffix(&format!(".{}.elb.amazonaws.com", self.region)) else { return false };
        let name = self.balancer_name.to_ascii_lowercase();
        let id_after = |prefix: &str| {
            first
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        };
        id_after(&name) || id_after(&format!("internal-{name}"))
    }

    /// Each host's alias to our balancer as it stands, and the hosts holding another
    /// record (an `A`, an alias elsewhere, or a CNAME).
    async fn look(
        &self,
        zone: &Zone,
        hosts: &[String],
        may_list: bool,
    ) -> Result<(BTreeMap<String, ResourceRecordSet>, BTreeSet<String>), ResourceError> {
        let (mut ours, mut foreign) = (BTreeMap::new(), BTreeSet::new());
        for host in hosts {
            let Some(set) = zone.set(may_list, host, host, RrType::A).await? else {
                // A CNAME there excludes any other record: theirs, refused by name.
                if zone.set(may_list, host, host, RrType::Cname).await?.is_some() {
                    foreign.insert(host.clone());
                }
                continue;
            };
            match set.alias_target() {
                Some(alias) if self.is_ours(alias.dns_name()) => {
                    ours.insert(host.clone(), set);
                }
                _ => {
                    foreign.insert(host.clone());
                }
            }
        }
        Ok((ours, foreign))
    }

    fn alias(&self, host: &str, target: &str, target_zone: &str) -> Result<ResourceRecordSet, ResourceError> {
        let alias = AliasTarget::builder()
            .hosted_zone_id(target_zone)
            .dns_name(target)
            .evaluate_target_health(false)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        ResourceRecordSet::builder()
            .name(host)
            .r#type(RrType::A)
            .alias_target(alias)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))
    }

    /// UPSERT, for the hosts the read found empty or holding our alias to an older
    /// balancer (a host holding anything else stopped the run before). Not CREATE: moto
    /// (5.2.5) checks CREATE against its journal of changes, and refuses one after our own
    /// DELETE of the same name, which Route 53 accepts.
    async fn write(
        &self,
        cx: &Cx<'_>,
        ours: &BTreeMap<String, String>,
        desired: &AliasRecordsAttrs,
    ) -> Result<(), ResourceError> {
        let target_zone = cx.inputs.get(&self.balancer, Output::HostedZone)?;
        let mut changes = Vec::new();
        for (host, target) in &desired.targets {
            if ours.get(host) == Some(target) {
                continue;
            }
            changes.push(change(ChangeAction::Upsert, self.alias(host, target, target_zone)?)?);
        }
        self.zone.change(changes, "temporalctl: the ingress balancer's names").await
    }

    fn refusal(&self, foreign: &BTreeSet<String>) -> ResourceError {
        let hosts: Vec<&str> = foreign.iter().map(String::as_str).collect();
        ResourceError::fatal(format!(
            "ingress.hosted_zone_id: {} already {} a record in zone {} that temporalctl did not write (not an alias to its balancer); it is never overwritten: remove it, or leave hosted_zone_id out and point the name at the balancer yourself",
            hosts.join(" and "),
            if hosts.len() > 1 { "have" } else { "has" },
            self.zone.id
        ))
    }
}

#[async_trait]
impl Kind for AliasRecords {
    type Attrs = AliasRecordsAttrs;

    fn kind(&self) -> &'static str {
        "dns-alias-records"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.balancer.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<AliasRecordsAttrs, ResourceError> {
        let target = normalized(inputs.get(&self.balancer, Output::Endpoint)?);
        Ok(AliasRecordsAttrs {
            zone: self.zone.id.clone(),
            hosts: self.hosts.iter().cloned().collect(),
            targets: self.hosts.iter().map(|h| (h.clone(), target.clone())).collect(),
            foreign: BTreeSet::new(),
        })
    }

    /// Found when any host holds a record: ours to keep in line, or another that `up`
    /// refuses to touch (reported, so that `down` and `plan` still work).
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<AliasRecordsAttrs>>, ResourceError> {
        let (zone, hosts) = place(&self.zone, &self.hosts, cx.recorded_id);
        let (ours, foreign) = self.look(&zone, &hosts, cx.may_read_from_listing).await?;
        if ours.is_empty() && foreign.is_empty() {
            return Ok(None);
        }
        let targets = ours
            .iter()
            .map(|(host, set)| (host.clone(), normalized(set.alias_target().map(|a| a.dns_name()).unwrap_or_default())))
            .collect();
        let id = format!("{}/{}", zone.id, hosts.join(","));
        // Records carry no tags: ours by their target (see the module's notes).
        Ok(Some(Observed::new(id).tags(cx.tags.clone()).found(AliasRecordsAttrs {
            zone: zone.id.clone(),
            hosts: hosts.into_iter().collect(),
            targets,
            foreign,
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &AliasRecordsAttrs) -> Result<Observed, ResourceError> {
        self.write(cx, &BTreeMap::new(), desired).await?;
        Ok(Observed::new(format!("{}/{}", self.zone.id, self.hosts.join(","))).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<AliasRecordsAttrs>>,
        desired: &AliasRecordsAttrs,
        _: &[AliasRecordsField],
    ) -> Result<(), ResourceError> {
        if !o.attrs.foreign.is_empty() {
            return Err(self.refusal(&o.attrs.foreign));
        }
        self.write(cx, &o.attrs.targets, desired).await
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Exactly the aliases pointing at our balancer, as Route 53 holds them now, where the
    /// state says they were written; others' records stay.
    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<AliasRecordsAttrs>>) -> Result<(), ResourceError> {
        let (zone, hosts) = place(&self.zone, &self.hosts, Some(&o.id));
        let (ours, _) = self.look(&zone, &hosts, false).await?;
        let changes = ours.into_values().map(|set| change(ChangeAction::Delete, set)).collect::<Result<Vec<_>, _>>()?;
        zone.change(changes, "temporalctl: the ingress balancer is going").await
    }
}

/// A requested certificate's validation CNAMEs, written with UPSERT, never deleted.
pub struct ValidationRecords {
    pub zone: Zone,
    pub hosts: Vec<String>,
    pub certificate: NodeId,
}

attributes! {
    pub struct ValidationRecordsAttrs / ValidationRecordsField {
        /// `<name> CNAME <value>`, names and values without their final dot.
        Records records: BTreeSet<String> = "records";
    }
}

/// `_x.temporal.example.com. CNAME _y.acm-validations.aws.` → (name, value), normalized.
fn parse_record(line: &str) -> Option<(String, String)> {
    let mut parts = line.split_whitespace();
    let (name, kind, value) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "CNAME").then(|| (normalized(name), normalized(value)))
}

#[async_trait]
impl Kind for ValidationRecords {
    type Attrs = ValidationRecordsAttrs;

    fn kind(&self) -> &'static str {
        "dns-validation-records"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.certificate.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<ValidationRecordsAttrs, ResourceError> {
        let lines = inputs.get(&self.certificate, Output::Records)?;
        // A certificate `plan` has yet to request: its records are not known yet either.
        if lines == temporalctl_engine::KNOWN_AFTER_CREATE {
            return Ok(ValidationRecordsAttrs { records: [lines.to_string()].into() });
        }
        let records = lines.lines().filter_map(parse_record).map(|(n, v)| format!("{n} CNAME {v}")).collect();
        Ok(ValidationRecordsAttrs { records })
    }

    /// ACM's validation records under each host name: `_…` children holding a CNAME to
    /// `acm-validations.aws`, only those the certificate names once it is known (another
    /// certificate's record for the same names is not ours to compare).
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ValidationRecordsAttrs>>, ResourceError> {
        let (zone, hosts) = place(&self.zone, &self.hosts, cx.recorded_id);
        let named: Option<BTreeSet<String>> = cx
            .inputs
            .get(&self.certificate, Output::Records)
            .ok()
            .map(|lines| lines.lines().filter_map(parse_record).map(|(name, _)| name).collect());
        let mut records = BTreeSet::new();
        for host in &hosts {
            let page = zone.around(cx.may_read_from_listing, host).await?;
            for set in page.sets.iter().filter(|s| s.r#type() == &RrType::Cname) {
                let name = normalized(set.name());
                let child = name
                    .strip_suffix(&format!(".{host}"))
                    .is_some_and(|label| label.starts_with('_') && !label.contains('.'));
                let wanted = named.as_ref().is_none_or(|n| n.contains(&name));
                for value in set.resource_records().iter().map(|r| normalized(r.value())) {
                    if child && wanted && value.ends_with("acm-validations.aws") {
                        records.insert(format!("{name} CNAME {value}"));
                    }
                }
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        let id = format!("{}/validation/{}", zone.id, hosts.join(","));
        Ok(Some(Observed::new(id).tags(cx.tags.clone()).found(ValidationRecordsAttrs { records })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ValidationRecordsAttrs) -> Result<Observed, ResourceError> {
        let upserts = desired
            .records
            .iter()
            .filter_map(|line| parse_record(line))
            .map(|(name, value)| {
                let record =
                    ResourceRecord::builder().value(value).build().map_err(|e| ResourceError::fatal(e.to_string()))?;
                let set = ResourceRecordSet::builder()
                    .name(name)
                    .r#type(RrType::Cname)
                    .ttl(VALIDATION_TTL)
                    .resource_records(record)
                    .build()
                    .map_err(|e| ResourceError::fatal(e.to_string()))?;
                change(ChangeAction::Upsert, set)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.zone.change(upserts, "temporalctl: ACM validation of the ingress certificate").await?;
        Ok(Observed::new(format!("{}/validation/{}", self.zone.id, self.hosts.join(","))).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        _: &Owned<Found<ValidationRecordsAttrs>>,
        desired: &ValidationRecordsAttrs,
        _: &[ValidationRecordsField],
    ) -> Result<(), ResourceError> {
        self.create(cx, desired).await.map(|_| ())
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Never called (`Retention::Always`): renewals need the records.
    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ValidationRecordsAttrs>>) -> Result<(), ResourceError> {
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Always
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(region: &str) -> AliasRecords {
        let config = aws_sdk_route53::Config::builder().behavior_version_latest().build();
        AliasRecords {
            zone: Zone { r53: Route53::from_conf(config), listings: Listings::default(), id: "Z1".into() },
            hosts: vec!["a.example.com".into()],
            balancer: "load-balancer/ingress".into(),
            balancer_name: "internal-tools-ingress".into(),
            region: region.into(),
        }
    }

    /// Ours is exactly our balancer's DNS name in our region, internal or not, dual-stack
    /// or not; a balancer whose name only starts like ours, or ours in another region, is
    /// someone else's.
    #[test]
    fn an_alias_is_ours_only_when_it_names_our_balancer_in_our_region() {
        let a = aliases("us-east-1");
        for ours in [
            "internal-tools-ingress-1234567890.us-east-1.elb.amazonaws.com.",
            "internal-internal-tools-ingress-99.us-east-1.elb.amazonaws.com",
            "dualstack.internal-tools-ingress-1234567890.us-east-1.elb.amazonaws.com",
        ] {
            assert!(a.is_ours(ours), "{ours}");
        }
        for theirs in [
            "internal-tools-ingress-old-123.us-east-1.elb.amazonaws.com",
            "internal-tools-ingress-1234567890.eu-west-1.elb.amazonaws.com",
            "internal-tools-ingress.us-east-1.elb.amazonaws.com",
            "d111111abcdef8.cloudfront.net",
        ] {
            assert!(!a.is_ours(theirs), "{theirs}");
        }
    }

    #[test]
    fn the_recorded_place_names_the_zone_and_hosts() {
        assert_eq!(
            recorded_place(Some("Z1/a.example.com,b.example.com")),
            Some(("Z1".into(), vec!["a.example.com".into(), "b.example.com".into()]))
        );
        assert_eq!(
            recorded_place(Some("Z1/validation/a.example.com")),
            Some(("Z1".into(), vec!["a.example.com".into()]))
        );
        assert_eq!(recorded_place(None), None);
    }

    #[test]
    fn records_are_compared_without_case_or_final_dot() {
        assert_eq!(normalized("Temporal.Example.com."), "temporal.example.com");
        assert_eq!(
            parse_record("_a.Temporal.example.com. CNAME _b.acm-validations.aws."),
            Some(("_a.temporal.example.com".into(), "_b.acm-validations.aws".into()))
        );
        assert_eq!(parse_record("x A 1.2.3.4"), None);
    }
}
