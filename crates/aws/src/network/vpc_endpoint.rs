//! VPC endpoints: interface endpoints in the private subnets behind their security group,
//! and the S3 gateway endpoint on the private route table.
//!
//! An interface endpoint whose service takes an endpoint policy (`VpcEndpointPolicySupported`
//! in `DescribeVpcEndpointServices`: not every one does, and AWS refuses a policy for one
//! that does not) admits only principals of our account ([`account_policy`]). The S3
//! gateway endpoint keeps AWS's full-access policy: ECR's image layers come through it with
//! URLs signed by ECR's own account (`prod-<region>-starport-layer-bucket`), and Amazon
//! Linux's package repositories are read anonymously, so an account condition would stop
//! both (Amazon ECR User Guide, "Amazon ECR interface VPC endpoints").

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpointType};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub enum Placement {
    Interface { subnets: Vec<NodeId>, security_group: NodeId },
    Gateway { route_tables: Vec<NodeId> },
}

pub struct VpcEndpoint {
    pub ec2: Ec2,
    pub vpc: NodeId,
    /// Full service name, `com.amazonaws.<region>.<suffix>`.
    pub service: String,
    pub placement: Placement,
    pub deadline: Duration,
    /// The service takes an endpoint policy (read before the graph is built).
    pub policy_supported: bool,
}

/// Only principals of `account`, and AWS services acting for us, may use the endpoint
/// (the shape of AWS's data-perimeter examples, `aws-samples/data-perimeter-policy-examples`):
/// a credential of another account, stolen or not, cannot reach its own resources through
/// our network. `aws:PrincipalAccount` is set on every signed request.
pub fn account_policy(account: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OurAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": { "StringEquals": { "aws:PrincipalAccount": account } }
            },
            {
                "Sid": "AwsServicesForUs",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": { "Bool": { "aws:PrincipalIsAWSService": "true" } }
            }
        ]
    })
}

/// A policy as compared: canonical JSON, and "" for AWS's full-access default (what an
/// endpoint without a policy of ours shows; moto writes it with another `Version`).
fn comparable(policy: Option<&str>) -> String {
    let Some(text) = policy.filter(|p| !p.trim().is_empty()) else { return String::new() };
    let parsed: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let statements = parsed["Statement"].as_array().cloned().unwrap_or_default();
    let full_access = statements.len() == 1 && {
        let s = &statements[0];
        s["Effect"] == "Allow"
            && s.get("Condition").is_none()
            && [&s["Principal"], &s["Action"], &s["Resource"]].iter().all(|v| {
                **v == serde_json::json!("*")
                    || **v == serde_json::json!(["*"])
                    || **v == serde_json::json!({"AWS": "*"})
            })
    };
    if full_access { String::new() } else { crate::iam::canonical_policy(text) }
}

/// AWS sends endpoint states in lower case (`available`) while the SDK's enum expects
/// `Available`, so compare the text, not the enum.
fn state(s: Option<&State>) -> String {
    s.map(|s| s.as_str().to_ascii_lowercase()).unwrap_or_else(|| "pending".into())
}

fn readiness(s: Option<&State>) -> Status {
    match state(s).as_str() {
        "available" => Status::Ready,
        other => Status::Pending(other.to_string()),
    }
}

fn strings(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

attributes! {
    /// An interface endpoint has subnets, groups and private DNS; a gateway endpoint
    /// has route tables. The other type's fields stay empty.
    pub struct VpcEndpointAttrs / VpcEndpointField {
        Vpc vpc: String = "vpc", replace;
        Service service: String = "service", replace;
        Type endpoint_type: String = "type", replace;
        Subnets subnets: BTreeSet<String> = "subnets";
        SecurityGroups security_groups: BTreeSet<String> = "security-groups";
        PrivateDns private_dns: Option<bool> = "private-dns";
        RouteTables route_tables: BTreeSet<String> = "route-tables";
        /// The endpoint policy as canonical JSON; empty for AWS's full-access default.
        Policy policy: String = "policy";
    }
}

#[async_trait]
impl Kind for VpcEndpoint {
    type Attrs = VpcEndpointAttrs;

    fn kind(&self) -> &'static str {
        "vpc-endpoint"
    }

    fn references(&self) -> Vec<NodeId> {
        let placed: Vec<&NodeId> = match &self.placement {
            Placement::Interface { subnets, security_group } => subnets.iter().chain([security_group]).collect(),
            Placement::Gateway { route_tables } => route_tables.iter().collect(),
        };
        [&self.vpc].into_iter().chain(placed).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<VpcEndpointAttrs, ResourceError> {
        let common = VpcEndpointAttrs {
            vpc: inputs.get(&self.vpc, Output::Id)?.to_string(),
            service: self.service.clone(),
            ..Default::default()
        };
        Ok(match &self.placement {
            Placement::Interface { subnets, security_group } => VpcEndpointAttrs {
                endpoint_type: VpcEndpointType::Interface.as_str().into(),
                subnets: inputs.each(subnets, Output::Id)?,
                security_groups: inputs.each(std::slice::from_ref(security_group), Output::Id)?,
                private_dns: Some(true),
                policy: match self.policy_supported {
                    // AWS's CreateVpc and DescribeVpcs both return OwnerId (moto's CreateVpc
                    // does not; its DescribeVpcs does).
                    true => crate::iam::canonical_policy(
                        &account_policy(inputs.get(&self.vpc, Output::Account)?).to_string(),
                    ),
                    false => String::new(),
                },
                ..common
            },
            Placement::Gateway { route_tables } => VpcEndpointAttrs {
                endpoint_type: VpcEndpointType::Gateway.as_str().into(),
                route_tables: inputs.each(route_tables, Output::Id)?,
                ..common
            },
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<VpcEndpointAttrs>>, ResourceError> {
        let alive = |e: &aws_sdk_ec2::types::VpcEndpoint| {
            !matches!(state(e.state()).as_str(), "deleted" | "failed" | "rejected" | "expired")
        };
        let Some(e) = lookup!(
            cx,
            &self.ec2.listings,
            "VPC endpoint",
            self.ec2.describe_vpc_endpoints(),
            vpc_endpoint_ids,
            set_filters,
            vpc_endpoints,
            "DescribeVpcEndpoints",
            alive,
            |e| e.vpc_endpoint_id()
        )?
        else {
            return Ok(None);
        };
        let common = VpcEndpointAttrs {
            vpc: e.vpc_id().unwrap_or_default().into(),
            service: e.service_name().unwrap_or_default().into(),
            endpoint_type: e.vpc_endpoint_type().map(|t| t.as_str()).unwrap_or_default().into(),
            policy: comparable(e.policy_document()),
            ..Default::default()
        };
        let attrs = if matches!(e.vpc_endpoint_type(), Some(VpcEndpointType::Gateway)) {
            VpcEndpointAttrs { route_tables: strings(e.route_table_ids()), ..common }
        } else {
            VpcEndpointAttrs {
                subnets: strings(e.subnet_ids()),
                security_groups: e.groups().iter().filter_map(|g| g.group_id()).map(String::from).collect(),
                private_dns: Some(e.private_dns_enabled().unwrap_or(false)),
                ..common
            }
        };
        Ok(Some(
            Observed::new(e.vpc_endpoint_id().unwrap_or_default())
                .tags(from_sdk(e.tags()))
                .status(readiness(e.state()))
                .found(attrs),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &VpcEndpointAttrs) -> Result<Observed, ResourceError> {
        let list = |set: &BTreeSet<String>| Some(set.iter().cloned().collect());
        let mut req = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(&desired.vpc)
            .service_name(&self.service)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, cx.tags));
        req = match &self.placement {
            Placement::Interface { .. } => req
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(list(&desired.subnets))
                .set_security_group_ids(list(&desired.security_groups))
                .set_private_dns_enabled(desired.private_dns)
                .set_policy_document(Some(desired.policy.clone()).filter(|p| !p.is_empty())),
            Placement::Gateway { .. } => {
                req.vpc_endpoint_type(VpcEndpointType::Gateway).set_route_table_ids(list(&desired.route_tables))
            }
        };
        let out = req.send().await.map_err(aws("CreateVpcEndpoint"))?;
        let e = out.vpc_endpoint.ok_or_else(|| ResourceError::fatal("CreateVpcEndpoint returned no endpoint"))?;
        let status = readiness(e.state());
        Ok(Observed::new(e.vpc_endpoint_id().unwrap_or_default()).tags(cx.tags.clone()).status(status))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<VpcEndpointAttrs>>,
        desired: &VpcEndpointAttrs,
        changed: &[VpcEndpointField],
    ) -> Result<(), ResourceError> {
        // (to add, to remove; none when nothing is removed, as AWS wants it)
        let delta = |have: &BTreeSet<String>, want: &BTreeSet<String>| {
            let remove: Vec<String> = have.difference(want).cloned().collect();
            (Some(want.difference(have).cloned().collect()), Some(remove).filter(|r| !r.is_empty()))
        };
        let mut req = self.ec2.modify_vpc_endpoint().vpc_endpoint_id(&o.id);
        for field in changed {
            req = match field {
                VpcEndpointField::Subnets => {
                    let (add, remove) = delta(&o.attrs.subnets, &desired.subnets);
                    req.set_add_subnet_ids(add).set_remove_subnet_ids(remove)
                }
                VpcEndpointField::SecurityGroups => {
                    let (add, remove) = delta(&o.attrs.security_groups, &desired.security_groups);
                    req.set_add_security_group_ids(add).set_remove_security_group_ids(remove)
                }
                VpcEndpointField::RouteTables => {
                    let (add, remove) = delta(&o.attrs.route_tables, &desired.route_tables);
                    req.set_add_route_table_ids(add).set_remove_route_table_ids(remove)
                }
                VpcEndpointField::PrivateDns => req.set_private_dns_enabled(desired.private_dns),
                // Back to AWS's default when the service stopped taking ours.
                VpcEndpointField::Policy if desired.policy.is_empty() => req.reset_policy(true),
                VpcEndpointField::Policy => req.policy_document(&desired.policy),
                VpcEndpointField::Vpc | VpcEndpointField::Service | VpcEndpointField::Type => {
                    return Err(replaced_not_updated("vpc-endpoint", field));
                }
            };
        }
        req.send().await.map_err(aws("ModifyVpcEndpoint"))?;
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<VpcEndpointAttrs>>) -> Result<(), ResourceError> {
        let out =
            self.ec2.delete_vpc_endpoints().vpc_endpoint_ids(&o.id).send().await.map_err(aws("DeleteVpcEndpoints"))?;
        if let Some(failure) = out.unsuccessful().iter().find_map(|u| u.error()) {
            let code = failure.code().unwrap_or("Unknown");
            let class = crate::errors::class_of(Some(code), None);
            return Err(ResourceError::new(
                class,
                format!("DeleteVpcEndpoints: {}", failure.message().unwrap_or_default()),
            )
            .with_code(code));
        }
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }
}

/// The interface endpoint services of `d` that take an endpoint policy, as EC2 says
/// (`DescribeVpcEndpointServices`' `VpcEndpointPolicySupported`), in one call.
pub async fn policy_support(
    clients: &crate::Aws,
    d: &temporalctl_config::Deploy,
    cancel: &temporalctl_engine::CancelToken,
) -> Result<BTreeSet<String>, ResourceError> {
    let names: Vec<String> =
        d.network.interface_endpoints.iter().map(|s| crate::stack::endpoint_service(&d.region, s)).collect();
    if names.is_empty() {
        return Ok(BTreeSet::new());
    }
    let out = crate::preflight::retried(cancel, || async {
        clients
            .ec2
            .describe_vpc_endpoint_services()
            .set_service_names(Some(names.clone()))
            .send()
            .await
            .map_err(aws("DescribeVpcEndpointServices"))
    })
    .await?;
    Ok(out
        .service_details()
        .iter()
        .filter(|s| s.vpc_endpoint_policy_supported() == Some(true))
        .filter_map(|s| s.service_name().map(String::from))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_policy_admits_our_account_and_aws_services_only() {
        let policy = account_policy("123456789012");
        insta::assert_json_snapshot!("endpoint-policy", temporalctl_config::json::sort_keys(policy.clone()));
        let statements = policy["Statement"].as_array().unwrap();
        // Every statement that allows is bound by a condition: none admits anyone.
        assert!(statements.iter().all(|s| s["Effect"] == "Allow" && s.get("Condition").is_some()));
        assert_eq!(statements[0]["Condition"]["StringEquals"]["aws:PrincipalAccount"], "123456789012");
    }

    #[test]
    fn aws_default_full_access_compares_as_no_policy_and_ours_as_itself() {
        // AWS's default, and moto's (another Version), read as "no policy of ours".
        for default in [
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Action":"*","Effect":"Allow","Principal":{"AWS":"*"},"Resource":["*"]}],"Version":"2012-10-17"}"#,
        ] {
            assert_eq!(comparable(Some(default)), "", "{default}");
        }
        assert_eq!(comparable(None), "");
        let ours = account_policy("123456789012").to_string();
        assert_eq!(comparable(Some(&ours)), crate::iam::canonical_policy(&ours));
        assert_ne!(comparable(Some(&ours)), "");
    }
}
