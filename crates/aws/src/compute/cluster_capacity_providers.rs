//! The node groups' capacity providers attached to the cluster. Not a resource AWS tags:
//! it is part of the cluster, so it stands as ours exactly when the cluster is ours.
//! No default strategy: every service names its own node group.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ecs::types::ClusterField;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, inherited_tags,
};

use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct ClusterCapacityProviders {
    pub ecs: aws_sdk_ecs::Client,
    pub cluster: String,
    pub providers: Vec<NodeId>,
}

impl ClusterCapacityProviders {
    async fn put(&self, providers: &BTreeSet<String>) -> Result<(), ResourceError> {
        self.ecs
            .put_cluster_capacity_providers()
            .cluster(&self.cluster)
            .set_capacity_providers(Some(providers.iter().cloned().collect()))
            .set_default_capacity_provider_strategy(Some(vec![]))
            .send()
            .await
            .map_err(aws("PutClusterCapacityProviders"))?;
        Ok(())
    }
}

/// The cluster's `attachmentsStatus` after `PutClusterCapacityProviders`: the providers
/// serve only once it is UPDATE_COMPLETE (ECS API reference, Cluster). The emulator never
/// returns it, which reads as complete.
fn attachment_status(status: Option<&str>) -> Result<Status, ResourceError> {
    match status {
        None | Some("UPDATE_COMPLETE") => Ok(Status::Ready),
        Some("UPDATE_FAILED") => Err(ResourceError::fatal(
            "ECS could not attach the capacity providers to the cluster (attachmentsStatus UPDATE_FAILED); `aws ecs describe-clusters --include ATTACHMENTS` shows why",
        )),
        Some(other) => Ok(Status::Pending(other.to_string())),
    }
}

attributes! {
    pub struct ClusterCapacityProvidersAttrs / ClusterCapacityProvidersField {
        CapacityProviders capacity_providers: BTreeSet<String> = "capacity-providers";
    }
}

#[async_trait]
impl Kind for ClusterCapacityProviders {
    type Attrs = ClusterCapacityProvidersAttrs;

    fn kind(&self) -> &'static str {
        "cluster-capacity-providers"
    }

    fn references(&self) -> Vec<NodeId> {
        self.providers.clone()
    }

    fn desired(&self, inputs: &Inputs) -> Result<ClusterCapacityProvidersAttrs, ResourceError> {
        let names = inputs.each(&self.providers, Output::Name)?;
        Ok(ClusterCapacityProvidersAttrs { capacity_providers: names })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ClusterCapacityProvidersAttrs>>, ResourceError> {
        let out = self
            .ecs
            .describe_clusters()
            .clusters(&self.cluster)
            .include(ClusterField::Tags)
            .include(ClusterField::Attachments)
            .send()
            .await
            .map_err(aws("DescribeClusters"))?;
        let Some(c) = out.clusters().iter().find(|c| c.status() == Some("ACTIVE")) else { return Ok(None) };
        if c.capacity_providers().is_empty() {
            return Ok(None);
        }
        Ok(Some(
            Observed::new(c.cluster_name().unwrap_or_default())
                .tags(inherited_tags(from_sdk(c.tags()), cx))
                .status(attachment_status(c.attachments_status())?)
                .found(ClusterCapacityProvidersAttrs {
                    capacity_providers: c.capacity_providers().iter().cloned().collect(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ClusterCapacityProvidersAttrs) -> Result<Observed, ResourceError> {
        self.put(&desired.capacity_providers).await?;
        // Attaching is asynchronous: the engine waits for the cluster's attachments.
        Ok(Observed::new(&self.cluster).tags(cx.tags.clone()).status(Status::Pending("attaching".into())))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<ClusterCapacityProvidersAttrs>>,
        desired: &ClusterCapacityProvidersAttrs,
        changed: &[ClusterCapacityProvidersField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                ClusterCapacityProvidersField::CapacityProviders => self.put(&desired.capacity_providers).await?,
            }
        }
        Ok(())
    }

    /// Part of the cluster, whose own node repairs its tags.
    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ClusterCapacityProvidersAttrs>>) -> Result<(), ResourceError> {
        self.put(&BTreeSet::new()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_serve_only_once_attached() {
        assert_eq!(attachment_status(None).unwrap(), Status::Ready, "the emulator's answer");
        assert_eq!(attachment_status(Some("UPDATE_COMPLETE")).unwrap(), Status::Ready);
        assert_eq!(
            attachment_status(Some("UPDATE_IN_PROGRESS")).unwrap(),
            Status::Pending("UPDATE_IN_PROGRESS".into())
        );
        assert!(attachment_status(Some("UPDATE_FAILED")).is_err());
    }
}
