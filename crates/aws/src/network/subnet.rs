//! A subnet: private ones for everything, one small public one for the NAT gateway.
//! No subnet maps public IPs on launch.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, name_blockers, tag_spec};
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct Subnet {
    pub ec2: Ec2,
    pub vpc: NodeId,
    pub cidr: String,
    pub zone: String,
}

attributes! {
    pub struct SubnetAttrs / SubnetField {
        Vpc vpc: String = "vpc", replace;
        Cidr cidr: String = "cidr", replace;
        Zone zone: String = "zone", replace;
        PublicIpOnLaunch public_ip_on_launch: bool = "public-ip-on-launch";
    }
}

#[async_trait]
impl Kind for Subnet {
    type Attrs = SubnetAttrs;

    fn kind(&self) -> &'static str {
        "subnet"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<SubnetAttrs, ResourceError> {
        Ok(SubnetAttrs {
            vpc: inputs.get(&self.vpc, Output::Id)?.to_string(),
            cidr: self.cidr.clone(),
            zone: self.zone.clone(),
            public_ip_on_launch: false,
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<SubnetAttrs>>, ResourceError> {
        let Some(s) = lookup!(
            cx,
            &self.ec2.listings,
            "subnet",
            self.ec2.describe_subnets(),
            subnet_ids,
            set_filters,
            subnets,
            "DescribeSubnets",
            |_| true,
            |s| s.subnet_id()
        )?
        else {
            return Ok(None);
        };
        let status = match s.state() {
            Some(SubnetState::Pending) => Status::Pending("pending".into()),
            _ => Status::Ready,
        };
        let zone = s.availability_zone().unwrap_or_default();
        Ok(Some(
            Observed::new(s.subnet_id().unwrap_or_default())
                .output(Output::Zone, zone)
                .output(Output::Cidr, s.cidr_block().unwrap_or_default())
                .tags(from_sdk(s.tags()))
                .status(status)
                .found(SubnetAttrs {
                    vpc: s.vpc_id().unwrap_or_default().into(),
                    cidr: s.cidr_block().unwrap_or_default().into(),
                    zone: zone.into(),
                    public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &SubnetAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(&desired.vpc)
            .cidr_block(&self.cidr)
            .availability_zone(&self.zone)
            .tag_specifications(tag_spec(ResourceType::Subnet, cx.tags))
            .send()
            .await
            .map_err(aws("CreateSubnet"))?;
        let id = out
            .subnet
            .and_then(|s| s.subnet_id)
            .ok_or_else(|| ResourceError::fatal("CreateSubnet returned no subnet"))?;
        Ok(Observed::new(id).output(Output::Zone, &self.zone).output(Output::Cidr, &self.cidr).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<SubnetAttrs>>,
        desired: &SubnetAttrs,
        changed: &[SubnetField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                SubnetField::PublicIpOnLaunch => {
                    let off = AttributeBooleanValue::builder().value(desired.public_ip_on_launch).build();
                    self.ec2
                        .modify_subnet_attribute()
                        .subnet_id(&o.id)
                        .map_public_ip_on_launch(off)
                        .send()
                        .await
                        .map_err(aws("ModifySubnetAttribute"))?;
                }
                SubnetField::Vpc | SubnetField::Cidr | SubnetField::Zone => {
                    return Err(replaced_not_updated("subnet", field));
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    fn placed_in(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<SubnetAttrs>>) -> Result<(), ResourceError> {
        match self.ec2.delete_subnet().subnet_id(&o.id).send().await.map_err(aws("DeleteSubnet")) {
            Ok(_) => Ok(()),
            Err(e) => Err(name_blockers(&self.ec2, "subnet-id", &o.id, e).await),
        }
    }
}
