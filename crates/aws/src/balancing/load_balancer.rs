//! A load balancer (the frontend's internal Network Load Balancer) in its subnets, with its
//! own security group (which AWS allows only at creation for a Network Load Balancer: one
//! made without one can never get one).
//! `provisioning` → `active` takes minutes on AWS; the engine waits on it.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer as Elbv2LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, replaced_not_updated,
};

use super::{Elb, Family, balancer_named, elb_tags, ensure_tags, find};
use crate::errors::{aws, gone_is_ok};
use crate::outputs::Output;

pub struct LoadBalancer {
    pub elb: Elb,
    pub listings: crate::listings::Listings,
    /// Its name is the family's.
    pub family: Family,
    /// `network` or `application`.
    pub r#type: &'static str,
    /// `internal` or `internet-facing`.
    pub scheme: &'static str,
    pub subnets: Vec<NodeId>,
    pub security_group: NodeId,
    pub deadline: Duration,
}

attributes! {
    pub struct LoadBalancerAttrs / LoadBalancerField {
        Name name: String = "name", replace;
        Type kind: String = "type", replace;
        Scheme scheme: String = "scheme", replace;
        /// One per zone; a balancer's subnets are its DNS name's addresses, so a change
        /// is a new balancer (and a new name for workers to reach).
        Subnets subnets: BTreeSet<String> = "subnets", replace;
        SecurityGroups security_groups: BTreeSet<String> = "security-groups";
    }
}

/// Where the balancer stands: `failed` is an error with AWS's reason, not a wait.
fn status(lb: &Elbv2LoadBalancer) -> Result<Status, ResourceError> {
    let state = lb.state();
    match state.and_then(|s| s.code()) {
        Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) | None => Ok(Status::Ready),
        Some(LoadBalancerStateEnum::Failed) => Err(ResourceError::fatal(format!(
            "load balancer {} failed: {}",
            lb.load_balancer_name().unwrap_or_default(),
            state.and_then(|s| s.reason()).unwrap_or("AWS gave no reason")
        ))),
        Some(other) => Ok(Status::Pending(other.as_str().to_string())),
    }
}

fn observed(lb: &Elbv2LoadBalancer) -> Result<Observed, ResourceError> {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    Ok(Observed::new(arn)
        .output(Output::Arn, arn)
        .output(Output::Name, lb.load_balancer_name().unwrap_or_default())
        .output(Output::Endpoint, lb.dns_name().unwrap_or_default())
        .output(Output::HostedZone, lb.canonical_hosted_zone_id().unwrap_or_default())
        .status(status(lb)?))
}

#[async_trait]
impl Kind for LoadBalancer {
    type Attrs = LoadBalancerAttrs;

    fn kind(&self) -> &'static str {
        "load-balancer"
    }

    fn references(&self) -> Vec<NodeId> {
        self.subnets.iter().chain([&self.security_group]).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<LoadBalancerAttrs, ResourceError> {
        Ok(LoadBalancerAttrs {
            name: self.family.balancer.clone(),
            kind: self.r#type.into(),
            scheme: self.scheme.into(),
            subnets: inputs.each(&self.subnets, Output::Id)?,
            security_groups: [inputs.get(&self.security_group, Output::Id)?.to_string()].into(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<LoadBalancerAttrs>>, ResourceError> {
        let fresh = || balancer_named(&self.elb, &self.family.balancer);
        let found = find(
            cx,
            (&self.listings, &self.elb, &self.family),
            |all| all.load_balancer.clone(),
            |lb| lb.load_balancer_arn(),
            fresh,
        )
        .await?;
        let Some((lb, tags)) = found else { return Ok(None) };
        let lb = &lb;
        Ok(Some(observed(lb)?.tags(tags).found(LoadBalancerAttrs {
            name: lb.load_balancer_name().unwrap_or_default().into(),
            kind: lb.r#type().map(|t| t.as_str()).unwrap_or_default().into(),
            scheme: lb.scheme().map(|s| s.as_str()).unwrap_or_default().into(),
            subnets: lb.availability_zones().iter().filter_map(|z| z.subnet_id()).map(String::from).collect(),
            security_groups: lb.security_groups().iter().cloned().collect(),
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &LoadBalancerAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .elb
            .create_load_balancer()
            .name(&self.family.balancer)
            .r#type(LoadBalancerTypeEnum::from(desired.kind.as_str()))
            .scheme(LoadBalancerSchemeEnum::from(desired.scheme.as_str()))
            .set_subnets(Some(desired.subnets.iter().cloned().collect()))
            .set_security_groups(Some(desired.security_groups.iter().cloned().collect()))
            .set_tags(Some(elb_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateLoadBalancer"))?;
        let lb =
            out.load_balancers().first().ok_or_else(|| ResourceError::fatal("CreateLoadBalancer returned none"))?;
        Ok(observed(lb)?.tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<LoadBalancerAttrs>>,
        desired: &LoadBalancerAttrs,
        changed: &[LoadBalancerField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                LoadBalancerField::SecurityGroups => {
                    self.elb
                        .set_security_groups()
                        .load_balancer_arn(&o.id)
                        .set_security_groups(Some(desired.security_groups.iter().cloned().collect()))
                        .send()
                        .await
                        .map_err(aws("SetSecurityGroups"))?;
                }
                LoadBalancerField::Name
                | LoadBalancerField::Type
                | LoadBalancerField::Scheme
                | LoadBalancerField::Subnets => return Err(replaced_not_updated("load-balancer", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.elb, &o.id, cx.tags).await
    }

    /// Its listeners go with it; its network interfaces linger a little, which the
    /// security group's and subnets' deletes retry through.
    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<LoadBalancerAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(
            self.elb.delete_load_balancer().load_balancer_arn(&o.id).send().await.map_err(aws("DeleteLoadBalancer")),
        )
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }

    fn placed_in(&self) -> Vec<NodeId> {
        self.subnets.clone()
    }
}
