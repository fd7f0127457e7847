//! A VPC and private subnets of the user's (`network.existing`): looked up by the ids
//! deploy.yaml names, handed to dependents like ours, and never created, changed, tagged
//! or deleted (`Retention::Borrowed`).

use async_trait::async_trait;
use aws_sdk_ec2::types::{SubnetState, VpcState};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, Status, attributes,
};

use super::ec2::Ec2;
use crate::errors::{absent_if_gone, aws};
use crate::outputs::Output;

/// The refusal every change to a borrowed resource meets: the engine never asks for one
/// (it refuses replacements and keeps borrowed resources on `down`), so reaching this is
/// a bug, said plainly rather than acted on.
pub(crate) fn never_changed(what: &str, id: &str) -> ResourceError {
    ResourceError::fatal(format!(
        "{what} {id} is yours (deploy.yaml names it): temporalctl never changes or deletes it"
    ))
}

/// The state recording another resource for this node than deploy.yaml names: a stack
/// built in one network (or on one cluster) is not moved to another.
pub(crate) fn check_same_as_recorded(cx: &Cx<'_>, what: &str, named: &str, field: &str) -> Result<(), ResourceError> {
    match cx.recorded_id {
        Some(recorded) if recorded != named => Err(ResourceError::fatal(format!(
            "the state file records {recorded} as {}, but {field} names {what} {named}; temporalctl does not move a deployment to another {what}: run `temporalctl down` first, or name {recorded} again",
            cx.node
        ))),
        _ => Ok(()),
    }
}

pub struct ExistingVpc {
    pub ec2: Ec2,
    pub vpc_id: String,
}

attributes! {
    pub struct ExistingVpcAttrs / ExistingVpcField {
        VpcId vpc_id: String = "vpc-id";
    }
}

#[async_trait]
impl Kind for ExistingVpc {
    type Attrs = ExistingVpcAttrs;

    fn kind(&self) -> &'static str {
        "existing-vpc"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<ExistingVpcAttrs, ResourceError> {
        Ok(ExistingVpcAttrs { vpc_id: self.vpc_id.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ExistingVpcAttrs>>, ResourceError> {
        check_same_as_recorded(cx, "VPC", &self.vpc_id, "network.existing.vpc_id")?;
        let described = self.ec2.describe_vpcs().vpc_ids(&self.vpc_id).send().await.map_err(aws("DescribeVpcs"));
        let Some(vpc) = absent_if_gone(described)?.and_then(|out| out.vpcs.unwrap_or_default().into_iter().next())
        else {
            return Ok(None);
        };
        let status = match vpc.state() {
            Some(VpcState::Pending) => Status::Pending("pending".into()),
            _ => Status::Ready,
        };
        // Not ours to tag: it stands as ours so that it is never "drifted" or a conflict.
        Ok(Some(
            Observed::new(&self.vpc_id)
                .output(Output::Cidr, vpc.cidr_block().unwrap_or_default())
                .output(Output::Account, vpc.owner_id().unwrap_or_default())
                .tags(cx.tags.clone())
                .status(status)
                .found(ExistingVpcAttrs { vpc_id: vpc.vpc_id().unwrap_or_default().into() }),
        ))
    }

    async fn create(&self, _: &Cx<'_>, _: &ExistingVpcAttrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "network.existing.vpc_id: VPC {} does not exist in this account and region; check the id (`aws ec2 describe-vpcs`)",
            self.vpc_id
        )))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<ExistingVpcAttrs>>,
        _: &ExistingVpcAttrs,
        _: &[ExistingVpcField],
    ) -> Result<(), ResourceError> {
        Err(never_changed("VPC", &self.vpc_id))
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ExistingVpcAttrs>>) -> Result<(), ResourceError> {
        Err(never_changed("VPC", &self.vpc_id))
    }

    fn retention(&self) -> Retention {
        Retention::Borrowed
    }
}

pub struct ExistingSubnet {
    pub ec2: Ec2,
    pub subnet_id: String,
    /// Every subnet deploy.yaml names: a first look describes them all at once.
    pub named: Vec<String>,
    /// The VPC node: the subnet must sit in it.
    pub vpc: NodeId,
    /// The deploy.yaml field that names it.
    pub field: &'static str,
}

attributes! {
    pub struct ExistingSubnetAttrs / ExistingSubnetField {
        Vpc vpc: String = "vpc";
    }
}

#[async_trait]
impl Kind for ExistingSubnet {
    type Attrs = ExistingSubnetAttrs;

    fn kind(&self) -> &'static str {
        "existing-subnet"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<ExistingSubnetAttrs, ResourceError> {
        Ok(ExistingSubnetAttrs { vpc: inputs.get(&self.vpc, Output::Id)?.to_string() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ExistingSubnetAttrs>>, ResourceError> {
        check_same_as_recorded(cx, "subnet", &self.subnet_id, self.field)?;
        // By filter, not by id: a missing subnet is an empty answer, not an error.
        let describe = |ids: &[String]| {
            let by_id = aws_sdk_ec2::types::Filter::builder().name("subnet-id").set_values(Some(ids.to_vec())).build();
            let request = self.ec2.describe_subnets().filters(by_id);
            async move { Ok(request.send().await.map_err(aws("DescribeSubnets"))?.subnets.unwrap_or_default()) }
        };
        let own = [self.subnet_id.clone()];
        let is_it = |s: &aws_sdk_ec2::types::Subnet| s.subnet_id() == Some(self.subnet_id.as_str());
        let listing = (&self.named[..], &own[..]);
        let found =
            self.ec2.listings.find(cx.may_read_from_listing, "existing-subnet", listing, describe, is_it).await?;
        let Some(s) = found else { return Ok(None) };
        let status = match s.state() {
            Some(SubnetState::Pending) => Status::Pending("pending".into()),
            _ => Status::Ready,
        };
        Ok(Some(
            Observed::new(&self.subnet_id)
                .output(Output::Zone, s.availability_zone().unwrap_or_default())
                .output(Output::Cidr, s.cidr_block().unwrap_or_default())
                .tags(cx.tags.clone())
                .status(status)
                .found(ExistingSubnetAttrs { vpc: s.vpc_id().unwrap_or_default().into() }),
        ))
    }

    async fn create(&self, _: &Cx<'_>, _: &ExistingSubnetAttrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "{}: subnet {} does not exist in this account and region; check the id (`aws ec2 describe-subnets`)",
            self.field, self.subnet_id
        )))
    }

    /// The only difference there can be: the subnet sits in another VPC.
    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<ExistingSubnetAttrs>>,
        desired: &ExistingSubnetAttrs,
        _: &[ExistingSubnetField],
    ) -> Result<(), ResourceError> {
        Err(ResourceError::fatal(format!(
            "{}: subnet {} is in {}, not in network.existing.vpc_id {}; name subnets of that VPC",
            self.field, self.subnet_id, o.attrs.vpc, desired.vpc
        )))
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ExistingSubnetAttrs>>) -> Result<(), ResourceError> {
        Err(never_changed("subnet", &self.subnet_id))
    }

    fn retention(&self) -> Retention {
        Retention::Borrowed
    }
}
