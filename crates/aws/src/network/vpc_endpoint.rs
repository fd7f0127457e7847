//! VPC endpoints: interface endpoints in the private subnets behind their security group,
//! and the S3 gateway endpoint on the private route table.

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
                .set_private_dns_enabled(desired.private_dns),
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
