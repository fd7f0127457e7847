//! The NAT gateway: private egress (DSQL's public endpoint, Docker Hub images).
//! Takes minutes to become available and minutes to go away.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status};

use super::ec2::{Ec2, attr, ensure_tags, lookup, tag_map, tag_spec};
use crate::errors::aws;

pub struct NatGateway {
    pub ec2: Ec2,
    pub subnet: NodeId,
    pub elastic_ip: NodeId,
    pub deadline: Duration,
}

#[async_trait]
impl Resource for NatGateway {
    fn kind(&self) -> &'static str {
        "nat-gateway"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("subnet".into(), inputs.get(&self.subnet, "id")?.to_string()),
            ("allocation".into(), inputs.get(&self.elastic_ip, "id")?.to_string()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["subnet", "allocation"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        // `deleted` and `failed` gateways stay visible for an hour; they are gone to us.
        let alive = |n: &aws_sdk_ec2::types::NatGateway| {
            !matches!(n.state(), Some(NatGatewayState::Deleted | NatGatewayState::Failed))
        };
        let Some(n) = lookup!(
            cx,
            &self.ec2.listings,
            "NAT gateway",
            self.ec2.describe_nat_gateways(),
            nat_gateway_ids,
            set_filter,
            nat_gateways,
            "DescribeNatGateways",
            alive,
            |n| n.nat_gateway_id()
        )?
        else {
            return Ok(None);
        };
        let allocation = n.nat_gateway_addresses().iter().find_map(|a| a.allocation_id()).unwrap_or_default();
        let status = match n.state() {
            Some(NatGatewayState::Available) | None => Status::Ready,
            Some(other) => Status::Pending(other.as_str().to_string()),
        };
        Ok(Some(
            Observed::new(n.nat_gateway_id().unwrap_or_default())
                .attr("subnet", n.subnet_id().unwrap_or_default())
                .attr("allocation", allocation)
                .tags(tag_map(n.tags()))
                .status(status),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        // The SDK fills ClientToken, so a retried create cannot make a second gateway.
        let out = self
            .ec2
            .create_nat_gateway()
            .subnet_id(attr(desired, "subnet")?)
            .allocation_id(attr(desired, "allocation")?)
            .tag_specifications(tag_spec(ResourceType::Natgateway, cx.tags))
            .send()
            .await
            .map_err(aws("CreateNatGateway"))?;
        let n = out.nat_gateway.ok_or_else(|| ResourceError::fatal("CreateNatGateway returned no gateway"))?;
        let status = match n.state() {
            Some(NatGatewayState::Available) => Status::Ready,
            other => Status::Pending(other.map(|s| s.as_str()).unwrap_or("pending").to_string()),
        };
        Ok(Observed::new(n.nat_gateway_id().unwrap_or_default()).tags(cx.tags.clone()).status(status))
    }

    async fn update(&self, cx: &Cx<'_>, o: &Observed, _: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c == "tags") {
            ensure_tags(&self.ec2, &o.id, cx.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        self.ec2.delete_nat_gateway().nat_gateway_id(&o.id).send().await.map_err(aws("DeleteNatGateway"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }
}
