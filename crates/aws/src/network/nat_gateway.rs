//! The NAT gateway: private egress (DSQL's public endpoint, Docker Hub images).
//! Takes minutes to become available and minutes to go away.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct NatGateway {
    pub ec2: Ec2,
    pub subnet: NodeId,
    pub elastic_ip: NodeId,
    pub deadline: Duration,
}

attributes! {
    pub struct NatGatewayAttrs / NatGatewayField {
        Subnet subnet: String = "subnet", replace;
        /// The Elastic IP's allocation id.
        Allocation allocation: String = "allocation", replace;
    }
}

#[async_trait]
impl Kind for NatGateway {
    type Attrs = NatGatewayAttrs;

    fn kind(&self) -> &'static str {
        "nat-gateway"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.subnet.clone(), self.elastic_ip.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<NatGatewayAttrs, ResourceError> {
        Ok(NatGatewayAttrs {
            subnet: inputs.get(&self.subnet, Output::Id)?.to_string(),
            allocation: inputs.get(&self.elastic_ip, Output::Id)?.to_string(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<NatGatewayAttrs>>, ResourceError> {
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
        Ok(Some(Observed::new(n.nat_gateway_id().unwrap_or_default()).tags(from_sdk(n.tags())).status(status).found(
            NatGatewayAttrs { subnet: n.subnet_id().unwrap_or_default().into(), allocation: allocation.into() },
        )))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &NatGatewayAttrs) -> Result<Observed, ResourceError> {
        // The SDK fills ClientToken, so a retried create cannot make a second gateway.
        let out = self
            .ec2
            .create_nat_gateway()
            .subnet_id(&desired.subnet)
            .allocation_id(&desired.allocation)
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

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<NatGatewayAttrs>>,
        _: &NatGatewayAttrs,
        changed: &[NatGatewayField],
    ) -> Result<(), ResourceError> {
        match changed.first() {
            Some(field @ (NatGatewayField::Subnet | NatGatewayField::Allocation)) => {
                Err(replaced_not_updated("nat-gateway", field))
            }
            None => Ok(()),
        }
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<NatGatewayAttrs>>) -> Result<(), ResourceError> {
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
