//! A subnet: private ones for everything, one small public one for the NAT gateway.
//! No subnet maps public IPs on launch.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status};

use super::ec2::{Ec2, attr, ensure_tags, lookup, name_blockers, tag_map, tag_spec};
use crate::errors::aws;

pub struct Subnet {
    pub ec2: Ec2,
    pub vpc: NodeId,
    pub cidr: String,
    pub zone: String,
}

#[async_trait]
impl Resource for Subnet {
    fn kind(&self) -> &'static str {
        "subnet"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("vpc".into(), inputs.get(&self.vpc, "id")?.to_string()),
            ("cidr".into(), self.cidr.clone()),
            ("zone".into(), self.zone.clone()),
            ("public-ip-on-launch".into(), "false".into()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["vpc", "cidr", "zone"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
        Ok(Some(
            Observed::new(s.subnet_id().unwrap_or_default())
                .attr("vpc", s.vpc_id().unwrap_or_default())
                .attr("cidr", s.cidr_block().unwrap_or_default())
                .attr("zone", s.availability_zone().unwrap_or_default())
                .attr("public-ip-on-launch", s.map_public_ip_on_launch().unwrap_or(false).to_string())
                .output("zone", s.availability_zone().unwrap_or_default())
                .tags(tag_map(s.tags()))
                .status(status),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(attr(desired, "vpc")?)
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
        Ok(Observed::new(id).output("zone", &self.zone).tags(cx.tags.clone()))
    }

    async fn update(&self, cx: &Cx<'_>, o: &Observed, _: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                "public-ip-on-launch" => {
                    let off = AttributeBooleanValue::builder().value(false).build();
                    self.ec2
                        .modify_subnet_attribute()
                        .subnet_id(&o.id)
                        .map_public_ip_on_launch(off)
                        .send()
                        .await
                        .map_err(aws("ModifySubnetAttribute"))?;
                }
                "tags" => ensure_tags(&self.ec2, &o.id, cx.tags).await?,
                _ => {}
            }
        }
        Ok(())
    }

    fn placed_in(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        match self.ec2.delete_subnet().subnet_id(&o.id).send().await.map_err(aws("DeleteSubnet")) {
            Ok(_) => Ok(()),
            Err(e) => Err(name_blockers(&self.ec2, "subnet-id", &o.id, e).await),
        }
    }
}
