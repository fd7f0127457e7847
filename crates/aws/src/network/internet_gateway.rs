//! The internet gateway, attached to the VPC: the NAT gateway's way out.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes};

use super::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::errors::{aws, on_new_id};
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct InternetGateway {
    pub ec2: Ec2,
    pub vpc: NodeId,
}

attributes! {
    pub struct InternetGatewayAttrs / InternetGatewayField {
        /// The VPC it is attached to (empty when detached).
        AttachedTo attached_to: String = "attached-to";
    }
}

#[async_trait]
impl Kind for InternetGateway {
    type Attrs = InternetGatewayAttrs;

    fn kind(&self) -> &'static str {
        "internet-gateway"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<InternetGatewayAttrs, ResourceError> {
        Ok(InternetGatewayAttrs { attached_to: inputs.get(&self.vpc, Output::Id)?.to_string() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<InternetGatewayAttrs>>, ResourceError> {
        let Some(igw) = lookup!(
            cx,
            &self.ec2.listings,
            "internet gateway",
            self.ec2.describe_internet_gateways(),
            internet_gateway_ids,
            set_filters,
            internet_gateways,
            "DescribeInternetGateways",
            |_| true,
            |g| g.internet_gateway_id()
        )?
        else {
            return Ok(None);
        };
        let attached = igw.attachments().iter().filter_map(|a| a.vpc_id()).next().unwrap_or_default();
        Ok(Some(
            Observed::new(igw.internet_gateway_id().unwrap_or_default())
                .tags(from_sdk(igw.tags()))
                .found(InternetGatewayAttrs { attached_to: attached.into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &InternetGatewayAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, cx.tags))
            .send()
            .await
            .map_err(aws("CreateInternetGateway"))?;
        let id = out
            .internet_gateway
            .and_then(|g| g.internet_gateway_id)
            .ok_or_else(|| ResourceError::fatal("CreateInternetGateway returned no gateway"))?;
        on_new_id(|| self.attach(&id, &desired.attached_to)).await?;
        Ok(Observed::new(id).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<InternetGatewayAttrs>>,
        desired: &InternetGatewayAttrs,
        changed: &[InternetGatewayField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                InternetGatewayField::AttachedTo => {
                    if !o.attrs.attached_to.is_empty() {
                        self.detach(&o.id, &o.attrs.attached_to).await?;
                    }
                    self.attach(&o.id, &desired.attached_to).await?;
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<InternetGatewayAttrs>>) -> Result<(), ResourceError> {
        if !o.attrs.attached_to.is_empty() {
            self.detach(&o.id, &o.attrs.attached_to).await?;
        }
        self.ec2
            .delete_internet_gateway()
            .internet_gateway_id(&o.id)
            .send()
            .await
            .map_err(aws("DeleteInternetGateway"))?;
        Ok(())
    }
}

impl InternetGateway {
    async fn attach(&self, id: &str, vpc: &str) -> Result<(), ResourceError> {
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(aws("AttachInternetGateway"))?;
        Ok(())
    }

    async fn detach(&self, id: &str, vpc: &str) -> Result<(), ResourceError> {
        match self
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(aws("DetachInternetGateway"))
        {
            Err(e) if !e.is_not_found() && e.code.as_deref() != Some("Gateway.NotAttached") => Err(e),
            _ => Ok(()),
        }
    }
}
