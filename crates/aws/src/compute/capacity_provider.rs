//! A node group's ECS capacity provider: its Auto Scaling group with managed scaling at
//! 100% target capacity (seed 002), so ECS adds instances when tasks do not fit.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider as Provider, CapacityProviderField,
    CapacityProviderStatus, CapacityProviderUpdateStatus, ManagedDraining, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};
use temporalctl_engine::{
    AttrValue, Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes,
    replaced_not_updated,
};

use crate::ecs::ensure_tags;
use crate::errors::aws;
use crate::listings::Listings;
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

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

/// Managed scaling as `ENABLED:100` (status and target capacity).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scaling {
    pub status: String,
    pub target_capacity: i32,
}

impl AttrValue for Scaling {
    fn text(&self) -> String {
        format!("{}:{}", self.status, self.target_capacity)
    }
}

attributes! {
    pub struct CapacityProviderAttrs / ProviderField {
        AutoScalingGroup auto_scaling_group: String = "auto-scaling-group", replace;
        ManagedScaling managed_scaling: Scaling = "managed-scaling";
        TerminationProtection termination_protection: String = "termination-protection";
    }
}

#[async_trait]
impl Kind for CapacityProvider {
    type Attrs = CapacityProviderAttrs;

    fn kind(&self) -> &'static str {
        "capacity-provider"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.auto_scaling_group.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<CapacityProviderAttrs, ResourceError> {
        Ok(CapacityProviderAttrs {
            auto_scaling_group: inputs.get(&self.auto_scaling_group, Output::Arn)?.to_string(),
            managed_scaling: Scaling {
                status: ManagedScalingStatus::Enabled.as_str().into(),
                target_capacity: self.target_capacity,
            },
            termination_protection: ManagedTerminationProtection::Disabled.as_str().into(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<CapacityProviderAttrs>>, ResourceError> {
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
        let disabled = ManagedScalingStatus::Disabled.as_str();
        Ok(Some(
            Observed::new(c.name().unwrap_or_default())
                .output(Output::Arn, c.capacity_provider_arn().unwrap_or_default())
                .output(Output::Name, c.name().unwrap_or_default())
                .tags(from_sdk(c.tags()))
                .status(status)
                .found(CapacityProviderAttrs {
                    auto_scaling_group: asg.map(|a| a.auto_scaling_group_arn()).unwrap_or_default().into(),
                    managed_scaling: Scaling {
                        status: scaling.and_then(|s| s.status()).map_or(disabled, |s| s.as_str()).into(),
                        target_capacity: scaling.and_then(|s| s.target_capacity()).unwrap_or_default(),
                    },
                    termination_protection: asg
                        .and_then(|a| a.managed_termination_protection())
                        .map_or(disabled, |m| m.as_str())
                        .into(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &CapacityProviderAttrs) -> Result<Observed, ResourceError> {
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(&desired.auto_scaling_group)
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
            .set_tags(Some(sdk_tags!(infallible aws_sdk_ecs::types::Tag, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCapacityProvider"))?;
        let arn = out.capacity_provider.and_then(|c| c.capacity_provider_arn).unwrap_or_default();
        Ok(Observed::new(&self.name).output(Output::Arn, arn).output(Output::Name, &self.name).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<CapacityProviderAttrs>>,
        _: &CapacityProviderAttrs,
        changed: &[ProviderField],
    ) -> Result<(), ResourceError> {
        // One call sets both; the field list only says whether it is needed.
        for field in changed {
            match field {
                ProviderField::ManagedScaling | ProviderField::TerminationProtection => {}
                ProviderField::AutoScalingGroup => {
                    return Err(replaced_not_updated("capacity-provider", field));
                }
            }
        }
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
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ecs, o.outputs.get(Output::Arn.as_ref()).map_or("", String::as_str), cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<CapacityProviderAttrs>>) -> Result<(), ResourceError> {
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
