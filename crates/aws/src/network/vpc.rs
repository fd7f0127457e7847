//! The VPC, with DNS support and hostnames on (interface endpoints' private DNS needs both).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName, VpcState};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, name_blockers, tag_spec};
use crate::errors::{aws, on_new_id};
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct Vpc {
    pub ec2: Ec2,
    pub cidr: String,
}

attributes! {
    pub struct VpcAttrs / VpcField {
        Cidr cidr: String = "cidr", replace;
        DnsSupport dns_support: bool = "dns-support";
        DnsHostnames dns_hostnames: bool = "dns-hostnames";
    }
}

#[async_trait]
impl Kind for Vpc {
    type Attrs = VpcAttrs;

    fn kind(&self) -> &'static str {
        "vpc"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<VpcAttrs, ResourceError> {
        Ok(VpcAttrs { cidr: self.cidr.clone(), dns_support: true, dns_hostnames: true })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<VpcAttrs>>, ResourceError> {
        let Some(vpc) = lookup!(
            cx,
            &self.ec2.listings,
            "VPC",
            self.ec2.describe_vpcs(),
            vpc_ids,
            set_filters,
            vpcs,
            "DescribeVpcs",
            |_| true,
            |v| v.vpc_id()
        )?
        else {
            return Ok(None);
        };
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        let (support, hostnames) = tokio::try_join!(
            self.dns_attr(&id, VpcAttributeName::EnableDnsSupport),
            self.dns_attr(&id, VpcAttributeName::EnableDnsHostnames)
        )?;
        let status = match vpc.state() {
            Some(VpcState::Pending) => Status::Pending("pending".into()),
            _ => Status::Ready,
        };
        let cidr = vpc.cidr_block().unwrap_or_default();
        Ok(Some(
            Observed::new(id)
                .output(Output::Cidr, cidr)
                .output(Output::Account, vpc.owner_id().unwrap_or_default())
                .tags(from_sdk(vpc.tags()))
                .status(status)
                .found(VpcAttrs { cidr: cidr.into(), dns_support: support, dns_hostnames: hostnames }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &VpcAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_vpc()
            .cidr_block(&desired.cidr)
            .tag_specifications(tag_spec(ResourceType::Vpc, cx.tags))
            .send()
            .await
            .map_err(aws("CreateVpc"))?;
        let vpc = out.vpc.ok_or_else(|| ResourceError::fatal("CreateVpc returned no VPC"))?;
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        on_new_id(|| self.set_dns(&id, VpcAttributeName::EnableDnsSupport, true)).await?;
        on_new_id(|| self.set_dns(&id, VpcAttributeName::EnableDnsHostnames, true)).await?;
        Ok(Observed::new(id)
            .output(Output::Cidr, vpc.cidr_block().unwrap_or_default())
            .output(Output::Account, vpc.owner_id().unwrap_or_default())
            .tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<VpcAttrs>>,
        desired: &VpcAttrs,
        changed: &[VpcField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                VpcField::DnsSupport => {
                    self.set_dns(&o.id, VpcAttributeName::EnableDnsSupport, desired.dns_support).await?
                }
                VpcField::DnsHostnames => {
                    self.set_dns(&o.id, VpcAttributeName::EnableDnsHostnames, desired.dns_hostnames).await?
                }
                VpcField::Cidr => return Err(replaced_not_updated("vpc", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<VpcAttrs>>) -> Result<(), ResourceError> {
        match self.ec2.delete_vpc().vpc_id(&o.id).send().await.map_err(aws("DeleteVpc")) {
            Ok(_) => Ok(()),
            Err(e) => Err(name_blockers(&self.ec2, "vpc-id", &o.id, e).await),
        }
    }
}

impl Vpc {
    async fn dns_attr(&self, id: &str, name: VpcAttributeName) -> Result<bool, ResourceError> {
        let out = self
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(name.clone())
            .send()
            .await
            .map_err(aws("DescribeVpcAttribute"))?;
        let value = match name {
            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
            _ => out.enable_dns_hostnames(),
        };
        Ok(value.and_then(|v| v.value()).unwrap_or(false))
    }

    async fn set_dns(&self, id: &str, name: VpcAttributeName, on: bool) -> Result<(), ResourceError> {
        let value = AttributeBooleanValue::builder().value(on).build();
        let req = self.ec2.modify_vpc_attribute().vpc_id(id);
        let req = match name {
            VpcAttributeName::EnableDnsSupport => req.enable_dns_support(value),
            _ => req.enable_dns_hostnames(value),
        };
        req.send().await.map_err(aws("ModifyVpcAttribute"))?;
        Ok(())
    }
}
