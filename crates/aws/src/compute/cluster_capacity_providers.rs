//! The node groups' capacity providers attached to the cluster. Not a resource AWS tags:
//! it is part of the cluster, so it stands as ours exactly when the cluster is ours.
//! No default strategy: every service names its own node group.

use async_trait::async_trait;
use aws_sdk_ecs::types::ClusterField;
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status, inherited_tags};

use crate::ecs::tag_map;
use crate::errors::aws;
use crate::network::ec2::{attr, members, set};

pub struct ClusterCapacityProviders {
    pub ecs: aws_sdk_ecs::Client,
    pub cluster: String,
    pub providers: Vec<NodeId>,
}

impl ClusterCapacityProviders {
    async fn put(&self, providers: Vec<String>) -> Result<(), ResourceError> {
        self.ecs
            .put_cluster_capacity_providers()
            .cluster(&self.cluster)
            .set_capacity_providers(Some(providers))
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

#[async_trait]
impl Resource for ClusterCapacityProviders {
    fn kind(&self) -> &'static str {
        "cluster-capacity-providers"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let names: Vec<&str> = self.providers.iter().map(|p| inputs.get(p, "name")).collect::<Result<_, _>>()?;
        Ok(Attrs::from([("capacity-providers".into(), set(names))]))
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
                .attr("capacity-providers", set(c.capacity_providers().iter().map(String::as_str)))
                .tags(inherited_tags(tag_map(c.tags()), cx))
                .status(attachment_status(c.attachments_status())?),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        self.put(members(attr(desired, "capacity-providers")?)).await?;
        // Attaching is asynchronous: the engine waits for the cluster's attachments.
        Ok(Observed::new(&self.cluster).tags(cx.tags.clone()).status(Status::Pending("attaching".into())))
    }

    async fn update(&self, _: &Cx<'_>, _: &Observed, desired: &Attrs, _: &[String]) -> Result<(), ResourceError> {
        self.put(members(attr(desired, "capacity-providers")?)).await
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        self.put(vec![]).await
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
