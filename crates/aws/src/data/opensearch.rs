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
use serde_json::{Value, json};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Retention, Status};

use crate::errors::aws;
use crate::iam::canonical_policy;
use crate::network::ec2::{attr, members, set};
use crate::tags::sdk_tags;

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
pub fn domain_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:es:{region}:{account}:domain/{name}")
}

#[async_trait]
impl Resource for Domain {
    fn kind(&self) -> &'static str {
        "opensearch-domain"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let roles =
            self.principals.iter().map(|r| inputs.get(r, "arn").map(String::from)).collect::<Result<Vec<_>, _>>()?;
        // The account is in any of our roles' ARNs.
        let account = roles.first().and_then(|a| a.split(':').nth(4)).unwrap_or_default();
        let partition = roles.first().and_then(|a| a.split(':').nth(1)).unwrap_or("aws");
        let arn = domain_arn(partition, &self.region, account, &self.name);
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("engine-version".into(), self.engine_version.clone()),
            ("instance-type".into(), self.instance_type.clone()),
            ("instance-count".into(), self.instance_count.to_string()),
            ("volume".into(), format!("gp3:{}", self.volume_gb)),
            ("subnets".into(), inputs.get(&self.subnet, "id")?.to_string()),
            ("security-groups".into(), inputs.get(&self.security_group, "id")?.to_string()),
            ("encryption".into(), "at-rest,node-to-node".into()),
            ("endpoint".into(), format!("https-only:{TLS_POLICY}")),
            ("access-policy".into(), canonical_policy(&access_policy(&arn, &roles).to_string())),
        ]))
    }

    /// A VPC domain cannot move out of its subnets, and an engine upgrade is not a setting.
    fn immutable(&self) -> &'static [&'static str] {
        &["name", "engine-version", "subnets"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let d = match self.os.describe_domain().domain_name(&self.name).send().await.map_err(aws("DescribeDomain")) {
            Ok(out) => out.domain_status.ok_or_else(|| ResourceError::fatal("DescribeDomain returned nothing"))?,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if d.deleted() == Some(true) && d.processing() != Some(true) {
            return Ok(None);
        }
        let endpoint = d.endpoints().and_then(|e| e.get("vpc").cloned()).or_else(|| d.endpoint().map(String::from));
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
            d.encryption_at_rest_options().and_then(|e| e.enabled()).unwrap_or(false).then_some("at-rest"),
            d.node_to_node_encryption_options().and_then(|e| e.enabled()).unwrap_or(false).then_some("node-to-node"),
        ];
        let https = d.domain_endpoint_options().map(|o| {
            format!(
                "{}:{}",
                if o.enforce_https() == Some(true) { "https-only" } else { "http-allowed" },
                o.tls_security_policy().map(|p| p.as_str()).unwrap_or_default()
            )
        });
        Ok(Some(crate::operate::expose_step_tags(
            Observed::new(d.domain_name())
                .attr("name", d.domain_name())
                .attr("engine-version", d.engine_version().unwrap_or_default())
                .attr("instance-type", cluster.and_then(|c| c.instance_type()).map(|t| t.as_str()).unwrap_or_default())
                .attr("instance-count", cluster.and_then(|c| c.instance_count()).unwrap_or_default().to_string())
                .attr(
                    "volume",
                    format!(
                        "{}:{}",
                        ebs.and_then(|e| e.volume_type()).map(|v| v.as_str()).unwrap_or_default(),
                        ebs.and_then(|e| e.volume_size()).unwrap_or_default()
                    ),
                )
                .attr("subnets", set(vpc.map(|v| v.subnet_ids()).unwrap_or_default().iter().map(String::as_str)))
                .attr(
                    "security-groups",
                    set(vpc.map(|v| v.security_group_ids()).unwrap_or_default().iter().map(String::as_str)),
                )
                .attr("encryption", encryption.into_iter().flatten().collect::<Vec<_>>().join(","))
                .attr("endpoint", https.unwrap_or_default())
                .attr("access-policy", d.access_policies().map(canonical_policy).unwrap_or_default())
                .output("arn", d.arn())
                .output("endpoint", endpoint.unwrap_or_default())
                .tags(tags.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
                .status(status),
        )))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let tags = sdk_tags!(Tag, cx.tags)?;
        let out = self
            .os
            .create_domain()
            .domain_name(&self.name)
            .engine_version(&self.engine_version)
            .cluster_config(self.cluster_config())
            .ebs_options(self.ebs_options())
            .vpc_options(vpc_options(desired)?)
            .encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).build())
            .node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(true).build())
            .domain_endpoint_options(endpoint_options())
            .access_policies(attr(desired, "access-policy")?)
            .set_tag_list(Some(tags))
            .send()
            .await
            .map_err(aws("CreateDomain"))?;
        let arn = out.domain_status.map(|d| d.arn).unwrap_or_default();
        // The endpoint appears when processing ends; the engine waits on `read`.
        Ok(Observed::new(&self.name)
            .output("arn", arn)
            .tags(cx.tags.clone())
            .status(Status::Pending("processing".into())))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        let config_fields =
            ["instance-type", "instance-count", "volume", "security-groups", "encryption", "endpoint", "access-policy"];
        if changed.iter().any(|c| config_fields.contains(&c.as_str())) {
            self.os
                .update_domain_config()
                .domain_name(&self.name)
                .cluster_config(self.cluster_config())
                .ebs_options(self.ebs_options())
                .vpc_options(vpc_options(desired)?)
                .encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).build())
                .node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(true).build())
                .domain_endpoint_options(endpoint_options())
                .access_policies(attr(desired, "access-policy")?)
                .send()
                .await
                .map_err(aws("UpdateDomainConfig"))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let tags = sdk_tags!(Tag, cx.tags)?;
            let arn = o.outputs.get("arn").cloned().unwrap_or_default();
            self.os.add_tags().arn(arn).set_tag_list(Some(tags)).send().await.map_err(aws("AddTags"))?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
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

fn vpc_options(desired: &Attrs) -> Result<VpcOptions, ResourceError> {
    Ok(VpcOptions::builder()
        .set_subnet_ids(Some(members(attr(desired, "subnets")?)))
        .set_security_group_ids(Some(members(attr(desired, "security-groups")?)))
        .build())
}

/// HTTPS only, TLS 1.2 at least.
fn endpoint_options() -> DomainEndpointOptions {
    DomainEndpointOptions::builder()
        .enforce_https(true)
        .tls_security_policy(TlsSecurityPolicy::from(TLS_POLICY))
        .build()
}

impl Domain {
    fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig::builder()
            .instance_type(OpenSearchPartitionInstanceType::from(self.instance_type.as_str()))
            .instance_count(self.instance_count)
            .zone_awareness_enabled(false)
            .build()
    }

    fn ebs_options(&self) -> EbsOptions {
        EbsOptions::builder().ebs_enabled(true).volume_type(VolumeType::Gp3).volume_size(self.volume_gb).build()
    }
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
        insta::assert_json_snapshot!("opensearch-access-policy", access_policy(&arn, &roles));
    }
}
