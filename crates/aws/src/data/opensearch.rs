//! The OpenSearch VPC domain for Temporal visibility: one data node in a private subnet
//! behind its security group, encrypted at rest and between nodes, HTTPS with TLS 1.2 at
//! least, and an access policy admitting only the Temporal task roles. Creating one takes
//! 15-60 minutes: it starts as soon as its subnet, group, roles and the service-linked
//! role exist.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    ClusterConfig, DomainEndpointOptions, EbsOptions, EncryptionAtRestOptions, NodeToNodeEncryptionOptions,
    OpenSearchPartitionInstanceType, Tag, TlsSecurityPolicy, VolumeType, VpcOptions,
};
use std::collections::BTreeSet;

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
    pub volume_gb: i32,
    pub subnet: NodeId,
    pub security_group: NodeId,
    /// Roles the access policy admits (the Temporal task roles).
    pub principals: Vec<NodeId>,
    pub deadline: Duration,
}

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

/// The data volumes: `gp3:20` (type and size in GiB).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Volume {
    pub volume_type: String,
    pub gb: i32,
}

impl AttrValue for Volume {
    fn text(&self) -> String {
        format!("{}:{}", self.volume_type, self.gb)
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
    /// A VPC domain cannot move out of its subnets, and an engine upgrade is not a setting.
    pub struct DomainAttrs / DomainField {
        Name name: String = "name", replace;
        EngineVersion engine_version: String = "engine-version", replace;
        InstanceType instance_type: String = "instance-type";
        InstanceCount instance_count: i32 = "instance-count";
        Volume volume: Volume = "volume";
        Subnets subnets: BTreeSet<String> = "subnets", replace;
        SecurityGroups security_groups: BTreeSet<String> = "security-groups";
        /// `at-rest`, `node-to-node`: the encryptions that are on.
        Encryption encryption: BTreeSet<String> = "encryption";
        Endpoint endpoint: Option<Transport> = "endpoint";
        /// The access policy as canonical JSON.
        AccessPolicy access_policy: String = "access-policy";
    }
}

#[async_trait]
impl Kind for Domain {
    type Attrs = DomainAttrs;

    fn kind(&self) -> &'static str {
        "opensearch-domain"
    }

    fn references(&self) -> Vec<NodeId> {
        [&self.subnet, &self.security_group].into_iter().chain(&self.principals).cloned().collect()
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
            volume: Volume { volume_type: VolumeType::Gp3.as_str().into(), gb: self.volume_gb },
            subnets: [inputs.get(&self.subnet, Output::Id)?.to_string()].into(),
            security_groups: [inputs.get(&self.security_group, Output::Id)?.to_string()].into(),
            encryption: [AT_REST.to_string(), NODE_TO_NODE.to_string()].into(),
            endpoint: Some(Transport { https_only: true, tls_policy: TLS_POLICY.into() }),
            access_policy: canonical_policy(&access_policy(&arn, &roles).to_string()),
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<DomainAttrs>>, ResourceError> {
        let described = self.os.describe_domain().domain_name(&self.name).send().await.map_err(aws("DescribeDomain"));
        let Some(out) = absent_if_gone(described)? else { return Ok(None) };
        let d = out.domain_status.ok_or_else(|| ResourceError::fatal("DescribeDomain returned nothing"))?;
        if d.deleted() == Some(true) && d.processing() != Some(true) {
            return Ok(None);
        }
        let endpoint = endpoint_of(&d);
        let status = match (d.deleted(), d.processing(), &endpoint) {
            (Some(true), _, _) => Status::Pending("deleting".into()),
            (_, Some(true), _) => Status::Pending("processing".into()),
            (_, _, None) => Status::Pending("no endpoint yet".into()),
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
            volume: Volume {
                volume_type: ebs.and_then(|e| e.volume_type()).map(|v| v.as_str()).unwrap_or_default().into(),
                gb: ebs.and_then(|e| e.volume_size()).unwrap_or_default(),
            },
            subnets: strings(vpc.map(|v| v.subnet_ids()).unwrap_or_default()),
            security_groups: strings(vpc.map(|v| v.security_group_ids()).unwrap_or_default()),
            encryption: encryption.into_iter().flatten().map(String::from).collect(),
            endpoint: d.domain_endpoint_options().map(|o| Transport {
                https_only: o.enforce_https() == Some(true),
                tls_policy: o.tls_security_policy().map(|p| p.as_str()).unwrap_or_default().into(),
            }),
            access_policy: d.access_policies().map(canonical_policy).unwrap_or_default(),
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
        let out = with_settings!(create, self, desired).send().await.map_err(aws("CreateDomain"))?;
        let arn = out.domain_status.map(|d| d.arn).unwrap_or_default();
        // The endpoint appears when processing ends; the engine waits on `read`.
        Ok(Observed::new(&self.name)
            .output(Output::Arn, arn)
            .tags(cx.tags.clone())
            .status(Status::Pending("processing".into())))
    }

    /// One call sets every setting; the field list only says that it is needed.
    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<DomainAttrs>>,
        desired: &DomainAttrs,
        changed: &[DomainField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                DomainField::InstanceType
                | DomainField::InstanceCount
                | DomainField::Volume
                | DomainField::SecurityGroups
                | DomainField::Encryption
                | DomainField::Endpoint
                | DomainField::AccessPolicy => {}
                DomainField::Name | DomainField::EngineVersion | DomainField::Subnets => {
                    return Err(replaced_not_updated("opensearch-domain", field));
                }
            }
        }
        with_settings!(self.os.update_domain_config(), self, desired)
            .send()
            .await
            .map_err(aws("UpdateDomainConfig"))?;
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

    fn retention(&self) -> Retention {
        Retention::Data
    }

    fn placed_in(&self) -> Vec<NodeId> {
        vec![self.subnet.clone(), self.security_group.clone()]
    }
}

/// The settings `CreateDomain` and `UpdateDomainConfig` share, on either builder.
macro_rules! with_settings {
    ($builder:expr, $domain:expr, $desired:expr) => {
        $builder
            .domain_name(&$domain.name)
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

fn cluster_config(desired: &DomainAttrs) -> ClusterConfig {
    ClusterConfig::builder()
        .instance_type(OpenSearchPartitionInstanceType::from(desired.instance_type.as_str()))
        .instance_count(desired.instance_count)
        .zone_awareness_enabled(false)
        .build()
}

fn ebs_options(desired: &DomainAttrs) -> EbsOptions {
    EbsOptions::builder()
        .ebs_enabled(true)
        .volume_type(VolumeType::from(desired.volume.volume_type.as_str()))
        .volume_size(desired.volume.gb)
        .build()
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
