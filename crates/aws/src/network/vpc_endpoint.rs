//! VPC endpoints: interface endpoints in the private subnets behind their security group,
//! and the S3 gateway endpoint on the private route table.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpointType};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status};

use super::ec2::{Ec2, attr, ensure_tags, lookup, set, set_delta, tag_map, tag_spec};
use crate::errors::aws;

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

fn ids(inputs: &Inputs, nodes: &[NodeId]) -> Result<String, ResourceError> {
    let ids = nodes.iter().map(|n| inputs.get(n, "id")).collect::<Result<Vec<_>, _>>()?;
    Ok(set(ids))
}

#[async_trait]
impl Resource for VpcEndpoint {
    fn kind(&self) -> &'static str {
        "vpc-endpoint"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let mut a = Attrs::from([
            ("vpc".into(), inputs.get(&self.vpc, "id")?.to_string()),
            ("service".into(), self.service.clone()),
        ]);
        match &self.placement {
            Placement::Interface { subnets, security_group } => {
                a.insert("type".into(), "Interface".into());
                a.insert("subnets".into(), ids(inputs, subnets)?);
                a.insert("security-groups".into(), inputs.get(security_group, "id")?.to_string());
                a.insert("private-dns".into(), "true".into());
            }
            Placement::Gateway { route_tables } => {
                a.insert("type".into(), "Gateway".into());
                a.insert("route-tables".into(), ids(inputs, route_tables)?);
            }
        }
        Ok(a)
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["vpc", "service", "type"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
        let status = readiness(e.state());
        let mut o = Observed::new(e.vpc_endpoint_id().unwrap_or_default())
            .attr("vpc", e.vpc_id().unwrap_or_default())
            .attr("service", e.service_name().unwrap_or_default())
            .attr("type", e.vpc_endpoint_type().map(|t| t.as_str()).unwrap_or_default())
            .tags(tag_map(e.tags()))
            .status(status);
        if matches!(e.vpc_endpoint_type(), Some(VpcEndpointType::Gateway)) {
            o = o.attr("route-tables", set(e.route_table_ids().iter().map(String::as_str)));
        } else {
            o = o
                .attr("subnets", set(e.subnet_ids().iter().map(String::as_str)))
                .attr("security-groups", set(e.groups().iter().filter_map(|g| g.group_id())))
                .attr("private-dns", e.private_dns_enabled().unwrap_or(false).to_string());
        }
        Ok(Some(o))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let mut req = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(attr(desired, "vpc")?)
            .service_name(&self.service)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, cx.tags));
        req = match &self.placement {
            Placement::Interface { .. } => req
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(Some(super::ec2::members(attr(desired, "subnets")?)))
                .set_security_group_ids(Some(super::ec2::members(attr(desired, "security-groups")?)))
                .private_dns_enabled(true),
            Placement::Gateway { .. } => req
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(super::ec2::members(attr(desired, "route-tables")?))),
        };
        let out = req.send().await.map_err(aws("CreateVpcEndpoint"))?;
        let e = out.vpc_endpoint.ok_or_else(|| ResourceError::fatal("CreateVpcEndpoint returned no endpoint"))?;
        let status = readiness(e.state());
        Ok(Observed::new(e.vpc_endpoint_id().unwrap_or_default()).tags(cx.tags.clone()).status(status))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        let mut req = self.ec2.modify_vpc_endpoint().vpc_endpoint_id(&o.id);
        let mut modify = false;
        for field in changed {
            match field.as_str() {
                "subnets" => {
                    let (add, remove) = set_delta(o.attrs.get(field), attr(desired, field)?);
                    req = req
                        .set_add_subnet_ids(Some(add))
                        .set_remove_subnet_ids(Some(remove).filter(|r: &Vec<String>| !r.is_empty()));
                    modify = true;
                }
                "security-groups" => {
                    let (add, remove) = set_delta(o.attrs.get(field), attr(desired, field)?);
                    req = req
                        .set_add_security_group_ids(Some(add))
                        .set_remove_security_group_ids(Some(remove).filter(|r: &Vec<String>| !r.is_empty()));
                    modify = true;
                }
                "route-tables" => {
                    let (add, remove) = set_delta(o.attrs.get(field), attr(desired, field)?);
                    req = req
                        .set_add_route_table_ids(Some(add))
                        .set_remove_route_table_ids(Some(remove).filter(|r: &Vec<String>| !r.is_empty()));
                    modify = true;
                }
                "private-dns" => {
                    req = req.private_dns_enabled(true);
                    modify = true;
                }
                "tags" => ensure_tags(&self.ec2, &o.id, cx.tags).await?,
                _ => {}
            }
        }
        if modify {
            req.send().await.map_err(aws("ModifyVpcEndpoint"))?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
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
