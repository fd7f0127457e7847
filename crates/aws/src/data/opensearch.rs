//! The OpenSearch VPC domain for Temporal visibility: data nodes in one private subnet
//! (development) or spread over 2 or 3 zones with zone awareness, optional dedicated
//! masters, gp3 storage, encrypted at rest and between nodes, HTTPS with TLS 1.2 at
//! least, an access policy admitting only the Temporal task roles, and its error and
//! slow logs published to CloudWatch. Creating one takes 15-60 minutes: it starts as soon
//! as its subnets, group, roles, log groups and the service-linked role exist.
//!
//! Every setting but the engine version changes in place (UpdateDomainConfig). AWS runs
//! most of them as a blue/green deployment: new nodes beside the old, every shard copied,
//! the domain serving meanwhile ("Making configuration changes in Amazon OpenSearch
//! Service", Developer Guide). An engine version change is an upgrade (UpgradeDomain)
//! that AWS cannot undo or cancel: made only when the run allows it.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    ClusterConfig, ConfigChangeStatus, DomainEndpointOptions, DomainStatus, EbsOptions, EncryptionAtRestOptions,
    LogPublishingOption, LogType, NodeToNodeEncryptionOptions, OpenSearchPartitionInstanceType, Tag, TlsSecurityPolicy,
    VolumeType, VpcOptions, ZoneAwarenessConfig,
};
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use temporalctl_engine::{
    AttrValue, Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, Status, attributes,
    replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws};
use crate::iam::canonical_policy;
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

pub const TLS_POLICY: &str = "Policy-Min-TLS-1-2-2019-07";

pub struct Domain {
    pub os: aws_sdk_opensearch::Client,
    pub region: String,
    pub name: String,
    pub engine_version: String,
    pub instance_type: String,
    pub instance_count: i32,
    pub volume: Volume,
    /// 1 (zone awareness off) to 3.
    pub zones: i32,
    pub dedicated_master: Option<Masters>,
    /// One private subnet per zone.
    pub subnets: Vec<NodeId>,
    pub security_group: NodeId,
    /// Roles the access policy admits (the Temporal task roles).
    pub principals: Vec<NodeId>,
    /// The log groups the domain publishes to, by log type.
    pub logs: Vec<(LogType, NodeId)>,
    /// Creating it.
    pub deadline: Duration,
    /// A configuration change or an upgrade running on AWS.
    pub change_deadline: Duration,
    /// What this run asked of AWS, for the reads that wait for it.
    pub in_flight: std::sync::Mutex<Option<InFlight>>,
}

/// A change this run started. AWS may show a domain as before for a moment after it
/// accepted a change (neither processing nor changed), and its change details and upgrade
/// status describe the newest change only: so a wait follows its own change, and an older
/// change's failure does not end it.
#[derive(Debug, Clone, PartialEq)]
pub enum InFlight {
    /// A configuration change: the `ChangeId` AWS returned (when it did) and when it was
    /// asked for.
    Change { id: Option<String>, since: SystemTime },
    /// An engine upgrade to `target`; `seen_running` once a read showed it running.
    Upgrade { target: String, since: SystemTime, seen_running: bool },
}

/// How long a change AWS accepted may stay out of its answers (a few seconds usually)
/// before another change shown in its place counts as newer than ours.
const SHOWN_WITHIN: Duration = Duration::from_secs(120);

/// Only the named roles may use the domain's HTTP API, on this domain only.
pub fn access_policy(domain_arn: &str, role_arns: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": role_arns },
            "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"],
            "Resource": format!("{domain_arn}/*")
        }]
    })
}

/// The domain's ARN, written before the domain exists (policies need it first).
/// The domain's HTTPS host: its VPC endpoint, else its public one; none while building.
pub(crate) fn endpoint_of(d: &aws_sdk_opensearch::types::DomainStatus) -> Option<String> {
    d.endpoints().and_then(|e| e.get("vpc").cloned()).or_else(|| d.endpoint().map(String::from))
}

pub fn domain_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:es:{region}:{account}:domain/{name}")
}

/// Each data node's volume: `gp3:100GiB:3000iops:125MiB/s`. IOPS and throughput are
/// sent always (gp3's baseline when not chosen), so a read compares with them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Volume {
    pub volume_type: String,
    pub gb: i32,
    pub iops: i32,
    pub throughput_mibps: i32,
}

/// gp3's baseline, included in its price: 3,000 IOPS and 125 MiB/s at any size.
pub const GP3_BASELINE_IOPS: i32 = 3000;
pub const GP3_BASELINE_MIBPS: i32 = 125;

impl AttrValue for Volume {
    fn text(&self) -> String {
        format!("{}:{}GiB:{}iops:{}MiB/s", self.volume_type, self.gb, self.iops, self.throughput_mibps)
    }
}

/// Dedicated master nodes: `3 x m6g.large.search`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Masters {
    pub count: i32,
    pub instance_type: String,
}

impl AttrValue for Masters {
    fn text(&self) -> String {
        format!("{} x {}", self.count, self.instance_type)
    }
}

/// The endpoint's transport: `https-only:<TLS policy>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transport {
    pub https_only: bool,
    pub tls_policy: String,
}

impl AttrValue for Transport {
    fn text(&self) -> String {
        format!("{}:{}", if self.https_only { "https-only" } else { "http-allowed" }, self.tls_policy)
    }
}

const AT_REST: &str = "at-rest";
const NODE_TO_NODE: &str = "node-to-node";

attributes! {
    /// Only the name is fixed: a VPC domain may change subnets within its VPC (the
    /// Developer Guide's VPC page: "Limitations"), and the engine version is upgraded.
    pub struct DomainAttrs / DomainField {
        Name name: String = "name", replace;
        EngineVersion engine_version: String = "engine-version";
        InstanceType instance_type: String = "instance-type";
        InstanceCount instance_count: i32 = "instance-count";
        /// 1: zone awareness off; 2 or 3: on, with that many zones.
        Zones zones: i32 = "zones";
        DedicatedMaster dedicated_master: Option<Masters> = "dedicated-master";
        Volume volume: Volume = "volume";
        Subnets subnets: BTreeSet<String> = "subnets";
        SecurityGroups security_groups: BTreeSet<String> = "security-groups";
        /// `at-rest`, `node-to-node`: the encryptions that are on.
        Encryption encryption: BTreeSet<String> = "encryption";
        Endpoint endpoint: Option<Transport> = "endpoint";
        /// The access policy as canonical JSON.
        AccessPolicy access_policy: String = "access-policy";
        /// The log types published (enabled), each with its log group's ARN.
        Logs logs: BTreeMap<String, String> = "logs";
    }
}

#[async_trait]
impl Kind for Domain {
    type Attrs = DomainAttrs;

    fn kind(&self) -> &'static str {
        "opensearch-domain"
    }

    fn references(&self) -> Vec<NodeId> {
        let groups = self.logs.iter().map(|(_, group)| group);
        self.subnets.iter().chain([&self.security_group]).chain(&self.principals).chain(groups).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<DomainAttrs, ResourceError> {
        let roles: Vec<String> = inputs.each(&self.principals, Output::Arn)?;
        // The account is in any of our roles' ARNs.
        let account = roles.first().and_then(|a| a.split(':').nth(4)).unwrap_or_default();
        let partition = roles.first().and_then(|a| a.split(':').nth(1)).unwrap_or("aws");
        let arn = domain_arn(partition, &self.region, account, &self.name);
        Ok(DomainAttrs {
            name: self.name.clone(),
            engine_version: self.engine_version.clone(),
            instance_type: self.instance_type.clone(),
            instance_count: self.instance_count,
            zones: self.zones,
            dedicated_master: self.dedicated_master.clone(),
            volume: self.volume.clone(),
            subnets: inputs.each(&self.subnets, Output::Id)?,
            security_groups: [inputs.get(&self.security_group, Output::Id)?.to_string()].into(),
            encryption: [AT_REST.to_string(), NODE_TO_NODE.to_string()].into(),
            endpoint: Some(Transport { https_only: true, tls_policy: TLS_POLICY.into() }),
            access_policy: canonical_policy(&access_policy(&arn, &roles).to_string()),
            logs: self
                .logs
                .iter()
                .map(|(kind, group)| Ok((kind.as_str().to_string(), inputs.get(group, Output::Arn)?.to_string())))
                .collect::<Result<_, ResourceError>>()?,
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<DomainAttrs>>, ResourceError> {
        let described = self.os.describe_domain().domain_name(&self.name).send().await.map_err(aws("DescribeDomain"));
        let Some(out) = absent_if_gone(described)? else { return Ok(None) };
        let d = out.domain_status.ok_or_else(|| ResourceError::fatal("DescribeDomain returned nothing"))?;
        if d.deleted() == Some(true) && d.processing() != Some(true) {
            return Ok(None);
        }
        let endpoint = endpoint_of(&d);
        let deleting = d.deleted() == Some(true);
        let not_shown = match &self.followed(cx, &d) {
            Some(change) => self.not_shown_yet(&d, change).await?,
            None => None,
        };
        let status = match (deleting, busy(&d), not_shown, &endpoint) {
            (true, _, _, _) => Status::Pending("deleting".into()),
            (_, Some(doing), _, _) => Status::Pending(doing),
            (_, _, Some(waiting), _) => Status::Pending(waiting),
            (_, _, _, None) => Status::Pending("no endpoint yet".into()),
            _ => Status::Ready,
        };
        let cluster = d.cluster_config();
        let ebs = d.ebs_options();
        let vpc = d.vpc_options();
        let tags = self.os.list_tags().arn(d.arn()).send().await.map_err(aws("ListTags"))?;
        let encryption = [
            d.encryption_at_rest_options().and_then(|e| e.enabled()).unwrap_or(false).then_some(AT_REST),
            d.node_to_node_encryption_options().and_then(|e| e.enabled()).unwrap_or(false).then_some(NODE_TO_NODE),
        ];
        let strings = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<_>>();
        let attrs = DomainAttrs {
            name: d.domain_name().into(),
            engine_version: d.engine_version().unwrap_or_default().into(),
            instance_type: cluster.and_then(|c| c.instance_type()).map(|t| t.as_str()).unwrap_or_default().into(),
            instance_count: cluster.and_then(|c| c.instance_count()).unwrap_or_default(),
            zones: match cluster.and_then(|c| c.zone_awareness_enabled()) {
                // AWS's default count with zone awareness is 2 (ZoneAwarenessConfig).
                Some(true) => cluster
                    .and_then(|c| c.zone_awareness_config())
                    .and_then(|z| z.availability_zone_count())
                    .unwrap_or(2),
                _ => 1,
            },
            dedicated_master: cluster.filter(|c| c.dedicated_master_enabled() == Some(true)).map(|c| Masters {
                count: c.dedicated_master_count().unwrap_or_default(),
                instance_type: c.dedicated_master_type().map(|t| t.as_str()).unwrap_or_default().into(),
            }),
            volume: Volume {
                volume_type: ebs.and_then(|e| e.volume_type()).map(|v| v.as_str()).unwrap_or_default().into(),
                gb: ebs.and_then(|e| e.volume_size()).unwrap_or_default(),
                // A gp3 volume AWS reports without them runs at the baseline (a domain
                // made before they were sent): that is no change to make.
                iops: ebs.and_then(|e| e.iops()).unwrap_or(GP3_BASELINE_IOPS),
                throughput_mibps: ebs.and_then(|e| e.throughput()).unwrap_or(GP3_BASELINE_MIBPS),
            },
            subnets: strings(vpc.map(|v| v.subnet_ids()).unwrap_or_default()),
            security_groups: strings(vpc.map(|v| v.security_group_ids()).unwrap_or_default()),
            encryption: encryption.into_iter().flatten().map(String::from).collect(),
            endpoint: d.domain_endpoint_options().map(|o| Transport {
                https_only: o.enforce_https() == Some(true),
                tls_policy: o.tls_security_policy().map(|p| p.as_str()).unwrap_or_default().into(),
            }),
            access_policy: d.access_policies().map(canonical_policy).unwrap_or_default(),
            // AWS keeps a type it was told to stop publishing, as disabled.
            logs: d
                .log_publishing_options()
                .into_iter()
                .flatten()
                .filter(|(_, o)| o.enabled() == Some(true))
                .map(|(kind, o)| {
                    (kind.as_str().to_string(), o.cloud_watch_logs_log_group_arn().unwrap_or_default().into())
                })
                .collect(),
        };
        Ok(Some(
            super::expose_step_tags(
                Observed::new(d.domain_name())
                    .output(Output::Arn, d.arn())
                    .output(Output::Endpoint, endpoint.unwrap_or_default())
                    .tags(from_sdk(tags.tag_list()))
                    .status(status),
            )
            .found(attrs),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &DomainAttrs) -> Result<Observed, ResourceError> {
        let tags = sdk_tags!(Tag, cx.tags)?;
        let create = self.os.create_domain().engine_version(&desired.engine_version).set_tag_list(Some(tags));
        let out = with_settings!(create, self, desired, None).send().await.map_err(aws("CreateDomain"))?;
        self.started(out.domain_status().and_then(|d| d.change_progress_details()));
        let arn = out.domain_status.map(|d| d.arn).unwrap_or_default();
        // The endpoint appears when processing ends; the engine waits on `read`.
        Ok(Observed::new(&self.name)
            .output(Output::Arn, arn)
            .tags(cx.tags.clone())
            .status(Status::Pending("processing".into())))
    }

    /// One call sets every setting; the field list only says that it is needed. An
    /// engine version change is an upgrade of its own: AWS takes no other change while one
    /// runs ("Upgrading Amazon OpenSearch Service domains", Developer Guide).
    async fn update(
        &self,
        _: &Cx<'_>,
        observed: &Owned<Found<DomainAttrs>>,
        desired: &DomainAttrs,
        changed: &[DomainField],
    ) -> Result<(), ResourceError> {
        if changed.contains(&DomainField::Name) {
            return Err(replaced_not_updated("opensearch-domain", DomainField::Name));
        }
        if changed.contains(&DomainField::EngineVersion) {
            let (from, to) = (&observed.attrs.engine_version, &desired.engine_version);
            if let Some(refusal) = upgrade_refusal(from, to, changed.len()) {
                return Err(ResourceError::fatal(refusal));
            }
            self.os
                .upgrade_domain()
                .domain_name(&self.name)
                .target_version(to)
                .send()
                .await
                .map_err(aws("UpgradeDomain"))?;
            self.track(InFlight::Upgrade { target: to.clone(), since: SystemTime::now(), seen_running: false });
            return Ok(());
        }
        let out = with_settings!(self.os.update_domain_config(), self, desired, Some(&observed.attrs))
            .send()
            .await
            .map_err(aws("UpdateDomainConfig"))?;
        self.started(out.domain_config().and_then(|c| c.change_progress_details()));
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        let tags = sdk_tags!(Tag, cx.tags)?;
        let arn = o.outputs.get(Output::Arn.as_ref()).cloned().unwrap_or_default();
        self.os.add_tags().arn(arn).set_tag_list(Some(tags)).send().await.map_err(aws("AddTags"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<DomainAttrs>>) -> Result<(), ResourceError> {
        self.os.delete_domain().domain_name(&self.name).send().await.map_err(aws("DeleteDomain"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }

    fn change_deadline(&self) -> Duration {
        self.change_deadline
    }

    /// AWS refuses a configuration change while another runs ("A change/update is in
    /// progress"): `up` waits it out first.
    fn busy_refuses_changes(&self) -> bool {
        true
    }

    fn change_note(&self, before: &DomainAttrs, after: &DomainAttrs, changed: &[DomainField]) -> Option<String> {
        change_note(before, after, changed)
    }

    fn irreversible(&self, field: DomainField) -> Option<&'static str> {
        (field == DomainField::EngineVersion).then_some(
            "an engine upgrade cannot be undone or cancelled (AWS snapshots the domain first); pass --allow-engine-upgrade to run it",
        )
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }

    fn placed_in(&self) -> Vec<NodeId> {
        self.subnets.iter().chain([&self.security_group]).cloned().collect()
    }
}

impl Domain {
    fn track(&self, change: InFlight) {
        *self.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Some(change);
    }

    /// Remembers the change AWS just accepted, by its id when AWS names one.
    fn started(&self, details: Option<&aws_sdk_opensearch::types::ChangeProgressDetails>) {
        let id = details.and_then(|c| c.change_id()).map(String::from);
        self.track(InFlight::Change { id, since: SystemTime::now() });
    }

    /// The change this run started, for a read that follows it (not one being deleted);
    /// an upgrade seen running is marked so.
    fn followed(&self, cx: &Cx<'_>, d: &DomainStatus) -> Option<InFlight> {
        if !cx.follow_id || d.deleted() == Some(true) {
            return None;
        }
        let mut tracked = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(InFlight::Upgrade { seen_running, .. }) = tracked.as_mut() {
            *seen_running |= d.upgrade_processing() == Some(true);
        }
        tracked.clone()
    }

    /// While a read does not show our change yet, what to wait on; an error when AWS shows
    /// that it failed (a configuration change that failed validation, an upgrade that
    /// failed: waiting would only run into the deadline).
    async fn not_shown_yet(&self, d: &DomainStatus, change: &InFlight) -> Result<Option<String>, ResourceError> {
        let early = |since: &SystemTime| since.elapsed().unwrap_or_default() < SHOWN_WITHIN;
        match change {
            InFlight::Change { id, since } => {
                // (The emulator shows no change details: nothing to follow.)
                let Some(details) = d.change_progress_details() else { return Ok(None) };
                let ours = match id {
                    Some(id) => details.change_id() == Some(id.as_str()),
                    None => details.start_time().is_some_and(|t| started_after(t.secs(), since)),
                };
                if !ours {
                    // Not shown yet, or since followed by another change (the console's,
                    // a service software update): then there is nothing of ours to follow.
                    return Ok(early(since).then(|| "change accepted, not shown yet".into()));
                }
                if details.config_change_status() == Some(&ConfigChangeStatus::ValidationFailed) {
                    let why = details.message().unwrap_or("validation failed");
                    return Err(ResourceError::fatal(format!("OpenSearch refused the change of {}: {why}", self.name)));
                }
                Ok(None)
            }
            InFlight::Upgrade { target, .. } if d.engine_version() == Some(target.as_str()) => Ok(None),
            InFlight::Upgrade { .. } if d.upgrade_processing() == Some(true) => Ok(None),
            InFlight::Upgrade { target, since, seen_running } => {
                let status = self
                    .os
                    .get_upgrade_status()
                    .domain_name(&self.name)
                    .send()
                    .await
                    .map_err(aws("GetUpgradeStatus"))?;
                let step = status.upgrade_step().map(|s| s.as_str()).unwrap_or("upgrade");
                match status.step_status().map(|s| s.as_str()) {
                    // Ours once seen running, or when no other took its place in time (the
                    // status describes the newest upgrade, perhaps an older one).
                    Some("FAILED") if *seen_running || !early(since) => Err(ResourceError::fatal(format!(
                        "the upgrade of {} to {target} failed at its {step} step; the domain stays on its version (GetUpgradeStatus, or the console's Upgrade history, tells why)",
                        self.name
                    ))),
                    Some("FAILED") => Ok(Some(format!("upgrading to {target}: accepted, not started yet"))),
                    state => Ok(Some(format!("upgrading to {target}: {step} {}", state.unwrap_or("accepted")))),
                }
            }
        }
    }
}

/// Whether a change that started at `secs` (AWS's clock, Unix seconds) started after
/// `since` (ours), with a few seconds allowed for the clocks' skew.
fn started_after(secs: i64, since: &SystemTime) -> bool {
    let since = since.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    secs >= since - 5
}

/// What the domain is busy with, when it is: AWS's processing state, the change's status
/// and its message (DomainStatus, ChangeProgressDetails; the emulator shows neither).
fn busy(d: &DomainStatus) -> Option<String> {
    let state = d.domain_processing_status().map(|s| s.as_str()).filter(|s| *s != "Active");
    let processing = d.processing() == Some(true) || d.upgrade_processing() == Some(true);
    if !processing && state.is_none() {
        return None;
    }
    let change = d.change_progress_details();
    let parts: Vec<&str> = [
        Some(state.unwrap_or(if d.upgrade_processing() == Some(true) { "upgrading" } else { "processing" })),
        change.and_then(|c| c.config_change_status()).map(|c| c.as_str()),
        change.and_then(|c| c.message()).filter(|m| !m.is_empty()),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(parts.join(", "))
}

/// Why an engine version change is refused even when upgrades are allowed: it goes
/// backwards (AWS upgrades only forward), or other fields change with it.
pub fn upgrade_refusal(from: &str, to: &str, fields_changing: usize) -> Option<String> {
    let order = |v: &str| -> Option<(u8, u32, u32)> {
        let (engine, version) = v.split_once('_')?;
        let engine = match engine {
            "Elasticsearch" => 0,
            "OpenSearch" => 1,
            _ => return None,
        };
        let (major, minor) = version.split_once('.')?;
        Some((engine, major.parse().ok()?, minor.parse().ok()?))
    };
    if let (Some(a), Some(b)) = (order(from), order(to))
        && b < a
    {
        return Some(format!(
            "opensearch.engine_version {to} is older than the domain's {from}: AWS upgrades only forward; set it back to {from}"
        ));
    }
    (fields_changing > 1).then(|| {
        format!(
            "the engine upgrade {from} -> {to} must run alone (AWS accepts no other change during it): keep the other opensearch settings as they are for this `up`, then change them"
        )
    })
}

/// What `plan` and `up` say before a domain change. Blue/green for certain ("Changes
/// that usually cause blue/green deployments", Developer Guide): instance type, zones,
/// subnets, security groups, dedicated masters, a volume type change or a smaller volume.
/// Perhaps: a larger volume or more IOPS or throughput (in place, unless the volume
/// changed in the last six hours), the data node count on a domain without dedicated
/// masters (listed in older versions of the guide). Logs, the access policy and the
/// endpoint's TLS apply without one.
pub fn change_note(before: &DomainAttrs, after: &DomainAttrs, changed: &[DomainField]) -> Option<String> {
    use DomainField::*;
    if changed.contains(&EngineVersion) {
        return Some("an engine upgrade: AWS snapshots the domain, then upgrades it in place, often for an hour or more; it cannot be undone or cancelled. `up` refuses it without --allow-engine-upgrade, and runs it alone (change other opensearch settings in another `up`), waiting up to timeouts.opensearch_change".into());
    }
    let volume_rebuilt = before.volume.volume_type != after.volume.volume_type || after.volume.gb < before.volume.gb;
    let certain = changed.iter().any(|f| match f {
        InstanceType | Zones | Subnets | SecurityGroups | DedicatedMaster => true,
        Volume => volume_rebuilt,
        _ => false,
    });
    let perhaps = changed.iter().any(|f| match f {
        Volume => true,
        InstanceCount => before.dedicated_master.is_none(),
        _ => false,
    });
    const WHAT: &str = "new nodes are built beside the old ones and every shard is copied to them; the domain keeps serving meanwhile; tens of minutes for a small index, hours for a large one; `up` waits up to timeouts.opensearch_change";
    if certain {
        Some(format!("AWS runs this as a blue/green deployment: {WHAT}"))
    } else if perhaps {
        Some(format!(
            "AWS may run this as a blue/green deployment (a volume change within six hours of the last one; a data node count change without dedicated masters): {WHAT}"
        ))
    } else {
        None
    }
}

/// The settings `CreateDomain` and `UpdateDomainConfig` share, on either builder.
/// `$before`: what the domain had, so that a log type no longer published is turned off.
macro_rules! with_settings {
    ($builder:expr, $domain:expr, $desired:expr, $before:expr) => {
        $builder
            .domain_name(&$domain.name)
            .set_log_publishing_options(log_publishing($desired, $before))
            .cluster_config(cluster_config($desired))
            .ebs_options(ebs_options($desired))
            .vpc_options(vpc_options($desired))
            .encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).build())
            .node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(true).build())
            .domain_endpoint_options(endpoint_options())
            .access_policies(&$desired.access_policy)
    };
}
use with_settings;

fn vpc_options(desired: &DomainAttrs) -> VpcOptions {
    let list = |set: &BTreeSet<String>| Some(set.iter().cloned().collect());
    VpcOptions::builder()
        .set_subnet_ids(list(&desired.subnets))
        .set_security_group_ids(list(&desired.security_groups))
        .build()
}

/// Zone awareness with as many zones as subnets (AWS: AvailabilityZoneCount "must equal
/// the number of subnets" of a VPC domain); Multi-AZ with Standby off, as it needs 3
/// zones and dedicated masters and takes one change at a time.
fn cluster_config(desired: &DomainAttrs) -> ClusterConfig {
    let zoned = desired.zones > 1;
    let masters = desired.dedicated_master.as_ref();
    ClusterConfig::builder()
        .instance_type(OpenSearchPartitionInstanceType::from(desired.instance_type.as_str()))
        .instance_count(desired.instance_count)
        .zone_awareness_enabled(zoned)
        .set_zone_awareness_config(
            zoned.then(|| ZoneAwarenessConfig::builder().availability_zone_count(desired.zones).build()),
        )
        .multi_az_with_standby_enabled(false)
        .dedicated_master_enabled(masters.is_some())
        .set_dedicated_master_type(masters.map(|m| OpenSearchPartitionInstanceType::from(m.instance_type.as_str())))
        .set_dedicated_master_count(masters.map(|m| m.count))
        .build()
}

fn ebs_options(desired: &DomainAttrs) -> EbsOptions {
    EbsOptions::builder()
        .ebs_enabled(true)
        .volume_type(VolumeType::from(desired.volume.volume_type.as_str()))
        .volume_size(desired.volume.gb)
        .iops(desired.volume.iops)
        .throughput(desired.volume.throughput_mibps)
        .build()
}

/// Each published log type with its group (the group's ARN without `:*`, as the
/// Developer Guide's examples give it), and each one published before but no longer
/// wanted, disabled (AWS keeps publishing a type that is left out).
fn log_publishing(
    desired: &DomainAttrs,
    before: Option<&DomainAttrs>,
) -> Option<std::collections::HashMap<LogType, LogPublishingOption>> {
    let on = desired.logs.iter().map(|(kind, group)| {
        (
            LogType::from(kind.as_str()),
            LogPublishingOption::builder().enabled(true).cloud_watch_logs_log_group_arn(group).build(),
        )
    });
    let off = before.into_iter().flat_map(|b| &b.logs).filter(|(kind, _)| !desired.logs.contains_key(*kind)).map(
        |(kind, group)| {
            (
                LogType::from(kind.as_str()),
                LogPublishingOption::builder().enabled(false).cloud_watch_logs_log_group_arn(group).build(),
            )
        },
    );
    let all: std::collections::HashMap<_, _> = on.chain(off).collect();
    (!all.is_empty()).then_some(all)
}

/// HTTPS only, TLS 1.2 at least.
fn endpoint_options() -> DomainEndpointOptions {
    DomainEndpointOptions::builder()
        .enforce_https(true)
        .tls_security_policy(TlsSecurityPolicy::from(TLS_POLICY))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(zones: i32, masters: Option<Masters>) -> DomainAttrs {
        DomainAttrs {
            instance_type: "m6g.large.search".into(),
            instance_count: 3,
            zones,
            dedicated_master: masters,
            volume: Volume { volume_type: "gp3".into(), gb: 100, iops: 3000, throughput_mibps: 125 },
            logs: [("ES_APPLICATION_LOGS".to_string(), "arn:aws:logs:eu-west-1:1:log-group:a".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn three_zones_turn_zone_awareness_on_with_three_and_masters_are_sent_with_type_and_count() {
        let masters = Masters { count: 3, instance_type: "m6g.large.search".into() };
        let c = cluster_config(&attrs(3, Some(masters)));
        assert_eq!(c.zone_awareness_enabled(), Some(true));
        assert_eq!(c.zone_awareness_config().and_then(|z| z.availability_zone_count()), Some(3));
        assert_eq!(c.multi_az_with_standby_enabled(), Some(false));
        assert_eq!(c.dedicated_master_enabled(), Some(true));
        assert_eq!(c.dedicated_master_count(), Some(3));
        assert_eq!(c.dedicated_master_type().map(|t| t.as_str()), Some("m6g.large.search"));

        let single = cluster_config(&attrs(1, None));
        assert_eq!(single.zone_awareness_enabled(), Some(false));
        assert!(single.zone_awareness_config().is_none(), "no zone count without zone awareness");
        assert_eq!(single.dedicated_master_enabled(), Some(false));
        assert!(single.dedicated_master_type().is_none());
    }

    #[test]
    fn a_log_type_no_longer_wanted_is_sent_disabled_and_nothing_is_sent_when_none_ever_was() {
        let before = attrs(1, None);
        let after = DomainAttrs { logs: BTreeMap::new(), ..before.clone() };
        let sent = log_publishing(&after, Some(&before)).expect("the type is turned off");
        let option = &sent[&LogType::EsApplicationLogs];
        assert_eq!(option.enabled(), Some(false));
        assert!(log_publishing(&after, None).is_none());
        let on = log_publishing(&before, None).unwrap();
        assert_eq!(on[&LogType::EsApplicationLogs].enabled(), Some(true));
        assert_eq!(
            on[&LogType::EsApplicationLogs].cloud_watch_logs_log_group_arn(),
            Some("arn:aws:logs:eu-west-1:1:log-group:a")
        );
    }

    #[test]
    fn upgrades_go_forward_and_alone() {
        assert_eq!(upgrade_refusal("OpenSearch_2.11", "OpenSearch_2.13", 1), None);
        assert_eq!(upgrade_refusal("Elasticsearch_7.10", "OpenSearch_1.3", 1), None);
        assert!(upgrade_refusal("OpenSearch_2.13", "OpenSearch_2.9", 1).unwrap().contains("only forward"));
        assert!(upgrade_refusal("OpenSearch_1.3", "Elasticsearch_7.10", 1).unwrap().contains("only forward"));
        assert!(upgrade_refusal("OpenSearch_2.11", "OpenSearch_2.13", 2).unwrap().contains("must run alone"));
    }

    #[test]
    fn plans_name_blue_green_changes_and_upgrades_and_nothing_for_light_ones() {
        use DomainField::*;
        let before = attrs(1, None);
        let note = |after: &DomainAttrs, changed: &[DomainField]| change_note(&before, after, changed);
        for heavy in [InstanceType, Zones, Subnets, DedicatedMaster, SecurityGroups] {
            assert!(note(&before, &[heavy]).unwrap().starts_with("AWS runs this as a blue/green"), "{heavy:?}");
        }
        let smaller = DomainAttrs { volume: super::Volume { gb: 50, ..before.volume.clone() }, ..before.clone() };
        assert!(note(&smaller, &[Volume]).unwrap().starts_with("AWS runs this"), "a smaller volume is rebuilt");
        let larger =
            DomainAttrs { volume: super::Volume { gb: 200, iops: 6000, ..before.volume.clone() }, ..before.clone() };
        assert!(note(&larger, &[Volume]).unwrap().starts_with("AWS may run this"), "a larger one mostly is not");
        assert!(note(&before, &[InstanceCount]).unwrap().starts_with("AWS may run this"));
        let masters = DomainAttrs {
            dedicated_master: Some(Masters { count: 3, instance_type: "m6g.large.search".into() }),
            ..before.clone()
        };
        assert_eq!(
            change_note(&masters, &masters, &[InstanceCount]),
            None,
            "with masters, a count change is no blue/green"
        );
        let upgrade = note(&before, &[EngineVersion]).unwrap();
        assert!(upgrade.contains("cannot be undone") && upgrade.contains("--allow-engine-upgrade"), "{upgrade}");
        assert_eq!(note(&before, &[Logs, AccessPolicy, Endpoint]), None);
    }

    #[test]
    fn access_policy_snapshot() {
        let arn = domain_arn("aws", "us-east-1", "123456789012", "demo-visibility");
        let roles = vec![
            "arn:aws:iam::123456789012:role/demo-history-task".to_string(),
            "arn:aws:iam::123456789012:role/demo-frontend-task".to_string(),
        ];
        insta::assert_json_snapshot!(
            "opensearch-access-policy",
            temporalctl_config::json::sort_keys(access_policy(&arn, &roles))
        );
    }
}
