//! A node group's ECS capacity provider: its Auto Scaling group with managed scaling at
//! 100% target capacity (seed 002), so ECS adds instances when tasks do not fit.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider as Provider, CapacityProviderField,
    CapacityProviderStatus, CapacityProviderUpdateStatus, ManagedDraining, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status};

use crate::ecs::{ensure_tags, tag_map, to_tags};
use crate::errors::aws;
use crate::listings::Listings;

pub struct CapacityProvider {
    pub ecs: aws_sdk_ecs::Client,
    pub name: String,
    pub auto_scaling_group: NodeId,
    pub target_capacity: i32,
    /// Every node group's provider: one listing answers all their first looks.
    pub family: Vec<String>,
    pub listings: Listings,
}

impl CapacityProvider {
    /// The named providers (at most 100 names per call, far more than node groups).
    async fn describe(&self, names: &[String]) -> Result<Vec<Provider>, ResourceError> {
        let out = self
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(names.to_vec()))
            .include(CapacityProviderField::Tags)
            .send()
            .await
            .map_err(aws("DescribeCapacityProviders"))?;
        Ok(out.capacity_providers().to_vec())
    }

    fn scaling(&self) -> ManagedScaling {
        ManagedScaling::builder().status(ManagedScalingStatus::Enabled).target_capacity(self.target_capacity).build()
    }
}

#[async_trait]
impl Resource for CapacityProvider {
    fn kind(&self) -> &'static str {
        "capacity-provider"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("auto-scaling-group".into(), inputs.get(&self.auto_scaling_group, "arn")?.to_string()),
            ("managed-scaling".into(), format!("ENABLED:{}", self.target_capacity)),
            ("termination-protection".into(), "DISABLED".into()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["auto-scaling-group"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        // Unknown names come back as failures; deleted ones as INACTIVE.
        let found = self
            .listings
            .find(
                cx.may_read_from_listing,
                "capacity provider",
                (self.family.as_slice(), std::slice::from_ref(&self.name)),
                |names| self.describe(names),
                |c: &Provider| {
                    c.name() == Some(self.name.as_str()) && c.status() != Some(&CapacityProviderStatus::Inactive)
                },
            )
            .await?;
        let Some(c) = found else {
            return Ok(None);
        };
        let asg = c.auto_scaling_group_provider();
        let scaling = asg.and_then(|a| a.managed_scaling());
        // An update is applied asynchronously: ready once ECS says UPDATE_COMPLETE.
        let status = match c.update_status() {
            Some(
                s @ (CapacityProviderUpdateStatus::DeleteInProgress | CapacityProviderUpdateStatus::UpdateInProgress),
            ) => Status::Pending(s.as_str().into()),
            Some(CapacityProviderUpdateStatus::UpdateFailed) => {
                return Err(ResourceError::fatal(format!(
                    "ECS could not update capacity provider {}: {}",
                    self.name,
                    c.update_status_reason().unwrap_or("no reason given")
                )));
            }
            _ => Status::Ready,
        };
        Ok(Some(
            Observed::new(c.name().unwrap_or_default())
                .attr("auto-scaling-group", asg.map(|a| a.auto_scaling_group_arn()).unwrap_or_default())
                .attr(
                    "managed-scaling",
                    format!(
                        "{}:{}",
                        scaling.and_then(|s| s.status()).map(|s| s.as_str()).unwrap_or("DISABLED"),
                        scaling.and_then(|s| s.target_capacity()).unwrap_or_default()
                    ),
                )
                .attr(
                    "termination-protection",
                    asg.and_then(|a| a.managed_termination_protection()).map(|m| m.as_str()).unwrap_or("DISABLED"),
                )
                .output("arn", c.capacity_provider_arn().unwrap_or_default())
                .output("name", c.name().unwrap_or_default())
                .tags(tag_map(c.tags()))
                .status(status),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let asg = &desired["auto-scaling-group"];
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(asg)
            .managed_scaling(self.scaling())
            .managed_termination_protection(ManagedTerminationProtection::Disabled)
            .managed_draining(ManagedDraining::Enabled)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        let out = self
            .ecs
            .create_capacity_provider()
            .name(&self.name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(to_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCapacityProvider"))?;
        let arn = out.capacity_provider.and_then(|c| c.capacity_provider_arn).unwrap_or_default();
        Ok(Observed::new(&self.name).output("arn", arn).output("name", &self.name).tags(cx.tags.clone()))
    }

    async fn update(&self, cx: &Cx<'_>, o: &Observed, _: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c != "tags") {
            self.ecs
                .update_capacity_provider()
                .name(&self.name)
                .auto_scaling_group_provider(
                    AutoScalingGroupProviderUpdate::builder()
                        .managed_scaling(self.scaling())
                        .managed_termination_protection(ManagedTerminationProtection::Disabled)
                        .managed_draining(ManagedDraining::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(aws("UpdateCapacityProvider"))?;
        }
        if changed.iter().any(|c| c == "tags") {
            ensure_tags(&self.ecs, o.outputs.get("arn").map_or("", String::as_str), cx.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        self.ecs
            .delete_capacity_provider()
            .capacity_provider(&self.name)
            .send()
            .await
            .map_err(aws("DeleteCapacityProvider"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }
}
