//! The Aurora DSQL cluster, with deletion protection on. IAM authentication only: no
//! credential is stored anywhere.

use async_trait::async_trait;
use aws_sdk_dsql::types::ClusterStatus;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, Status, attributes, claim, owned_by,
};

use crate::errors::{absent_if_gone, aws};
use crate::network::existing::{check_same_as_recorded, never_changed};
use crate::outputs::Output;
use crate::tags::{from_map, tag_by_arn, to_map};

pub struct DsqlCluster {
    pub dsql: aws_sdk_dsql::Client,
    pub region: String,
    pub deletion_protection: bool,
    pub deadline: std::time::Duration,
}

/// IDLE and INACTIVE clusters are scaled down after a quiet spell but keep their data,
/// and the next connection brings them back to ACTIVE (AWS, "Aurora DSQL cluster
/// lifecycle"): present and usable, never "gone" (reading them as gone would make `up`
/// create a second, empty cluster).
fn status(s: &ClusterStatus) -> Option<Status> {
    match s {
        ClusterStatus::Active | ClusterStatus::Idle | ClusterStatus::Inactive => Some(Status::Ready),
        ClusterStatus::Deleted | ClusterStatus::Failed => None,
        other => Some(Status::Pending(other.as_str().to_lowercase())),
    }
}

/// The cluster's endpoint, as AWS names it when the response leaves it out.
pub(crate) fn endpoint(given: Option<&str>, identifier: &str, region: &str) -> String {
    given.map(String::from).unwrap_or_else(|| format!("{identifier}.dsql.{region}.on.aws"))
}

attributes! {
    pub struct DsqlClusterAttrs / DsqlClusterField {
        DeletionProtection deletion_protection: bool = "deletion-protection";
    }
}

#[async_trait]
impl Kind for DsqlCluster {
    type Attrs = DsqlClusterAttrs;

    fn kind(&self) -> &'static str {
        "dsql-cluster"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<DsqlClusterAttrs, ResourceError> {
        Ok(DsqlClusterAttrs { deletion_protection: self.deletion_protection })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<DsqlClusterAttrs>>, ResourceError> {
        // Every look but a wait's also lists the tagged clusters: a second cluster claiming
        // this node (an earlier run's) is a conflict to report, never one to pick or wait on.
        let id = match (cx.recorded_id, cx.follow_id) {
            (Some(id), true) => Some(id.to_string()),
            (recorded, false) => {
                let tagged = claim(self.tagged(cx).await?, "DSQL cluster", cx, |id| Some(id.as_str()))?;
                recorded.map(String::from).or(tagged)
            }
            (None, true) => None,
        };
        let Some(id) = id else { return Ok(None) };
        let c = match self.dsql.get_cluster().identifier(&id).send().await.map_err(aws("GetCluster")) {
            Ok(c) => c,
            // Recorded but gone: maybe recreated by an interrupted run, so look by tags.
            Err(e) if e.is_not_found() && cx.recorded_id.is_some() && !cx.follow_id => {
                return self.read(&Cx { recorded_id: None, ..*cx }).await;
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(status) = status(c.status()) else { return Ok(None) };
        let endpoint = endpoint(c.endpoint(), c.identifier(), &self.region);
        Ok(Some(
            super::expose_step_tags(
                Observed::new(c.identifier())
                    .output(Output::Arn, c.arn())
                    .output(Output::Endpoint, endpoint)
                    .tags(from_map(c.tags()))
                    .status(status),
            )
            .found(DsqlClusterAttrs { deletion_protection: c.deletion_protection_enabled() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &DsqlClusterAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .dsql
            .create_cluster()
            .deletion_protection_enabled(desired.deletion_protection)
            .set_tags(Some(to_map(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCluster"))?;
        let endpoint = endpoint(out.endpoint(), out.identifier(), &self.region);
        Ok(Observed::new(out.identifier())
            .output(Output::Arn, out.arn())
            .output(Output::Endpoint, endpoint)
            .tags(cx.tags.clone())
            .status(status(out.status()).unwrap_or(Status::Pending("creating".into()))))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<DsqlClusterAttrs>>,
        desired: &DsqlClusterAttrs,
        changed: &[DsqlClusterField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                DsqlClusterField::DeletionProtection => self.protect(&o.id, desired.deletion_protection).await?,
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        tag_by_arn!(self.dsql, o, to_map(cx.tags))
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<DsqlClusterAttrs>>) -> Result<(), ResourceError> {
        // Only `down --destroy-data` comes here: protection off first, as the user asked.
        if o.attrs.deletion_protection {
            self.protect(&o.id, false).await?;
        }
        self.dsql.delete_cluster().identifier(&o.id).send().await.map_err(aws("DeleteCluster"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> std::time::Duration {
        self.deadline
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }
}

/// A DSQL cluster of the user's (`dsql.existing_cluster`): read by its identifier, its
/// ARN and endpoint handed to the task roles and the schema steps like ours. Its settings
/// are never changed and it is never deleted (`Retention::Borrowed`); the schema steps
/// write into it and record themselves as its `temporalctl:step/*` tags (`operate`).
pub struct ExistingDsqlCluster {
    pub dsql: aws_sdk_dsql::Client,
    pub region: String,
    pub identifier: String,
    pub deadline: std::time::Duration,
}

attributes! {
    pub struct ExistingDsqlClusterAttrs / ExistingDsqlClusterField {
        Identifier identifier: String = "identifier";
    }
}

#[async_trait]
impl Kind for ExistingDsqlCluster {
    type Attrs = ExistingDsqlClusterAttrs;

    fn kind(&self) -> &'static str {
        "existing-dsql-cluster"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<ExistingDsqlClusterAttrs, ResourceError> {
        Ok(ExistingDsqlClusterAttrs { identifier: self.identifier.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ExistingDsqlClusterAttrs>>, ResourceError> {
        check_same_as_recorded(cx, "DSQL cluster", &self.identifier, "dsql.existing_cluster")?;
        let got = self.dsql.get_cluster().identifier(&self.identifier).send().await.map_err(aws("GetCluster"));
        let Some(c) = absent_if_gone(got)? else { return Ok(None) };
        let Some(status) = status(c.status()) else { return Ok(None) };
        let endpoint = endpoint(c.endpoint(), c.identifier(), &self.region);
        // Its step tags are outputs as on ours; its other tags are not ours to judge: it
        // stands as ours so that it is never "drifted" or a conflict.
        let observed = super::expose_step_tags(
            Observed::new(c.identifier())
                .output(Output::Arn, c.arn())
                .output(Output::Endpoint, endpoint)
                .tags(from_map(c.tags())),
        );
        Ok(Some(
            observed
                .tags(cx.tags.clone())
                .status(status)
                .found(ExistingDsqlClusterAttrs { identifier: c.identifier().to_string() }),
        ))
    }

    async fn create(&self, _: &Cx<'_>, _: &ExistingDsqlClusterAttrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "dsql.existing_cluster: DSQL cluster {} does not exist in {} (or is deleted or failed); check the identifier (`aws dsql list-clusters --region {}`)",
            self.identifier, self.region, self.region
        )))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<ExistingDsqlClusterAttrs>>,
        _: &ExistingDsqlClusterAttrs,
        _: &[ExistingDsqlClusterField],
    ) -> Result<(), ResourceError> {
        Err(never_changed("DSQL cluster", &self.identifier))
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ExistingDsqlClusterAttrs>>) -> Result<(), ResourceError> {
        Err(never_changed("DSQL cluster", &self.identifier))
    }

    /// A cluster still being created by its owner is waited on like ours.
    fn wait_deadline(&self) -> std::time::Duration {
        self.deadline
    }

    fn retention(&self) -> Retention {
        Retention::Borrowed
    }
}

impl DsqlCluster {
    async fn protect(&self, id: &str, on: bool) -> Result<(), ResourceError> {
        self.dsql
            .update_cluster()
            .identifier(id)
            .deletion_protection_enabled(on)
            .send()
            .await
            .map_err(aws("UpdateCluster"))?;
        Ok(())
    }

    /// Every cluster carrying this node's ownership tags.
    async fn tagged(&self, cx: &Cx<'_>) -> Result<Vec<String>, ResourceError> {
        let mut ours = Vec::new();
        let mut pages = self.dsql.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            for c in page.map_err(aws("ListClusters"))?.clusters() {
                let tags = self
                    .dsql
                    .list_tags_for_resource()
                    .resource_arn(c.arn())
                    .send()
                    .await
                    .map_err(aws("ListTagsForResource"));
                // Listed, then gone before its tags were read (a delete finishing): not a claimant.
                let Some(tags) = absent_if_gone(tags)? else { continue };
                if owned_by(&from_map(tags.tags()), cx.project, cx.node) {
                    ours.push(c.identifier().to_string());
                }
            }
        }
        Ok(ours)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dsql::operation::list_clusters::ListClustersOutput;
    use aws_sdk_dsql::operation::list_tags_for_resource::ListTagsForResourceError;
    use aws_sdk_dsql::types::ClusterSummary;
    use aws_sdk_dsql::types::error::ResourceNotFoundException;
    use aws_smithy_mocks::mock;
    use temporalctl_engine::Tags;

    use super::*;

    /// A cluster listed, then deleted before its tags are read (a `down` that finishes a
    /// delete, or AWS's own lag): it is no claimant, and the look finds nothing.
    #[tokio::test]
    async fn a_cluster_gone_between_listing_and_tags_is_not_a_claimant() {
        let listed = mock!(aws_sdk_dsql::Client::list_clusters).then_output(|| {
            let arn = "arn:aws:dsql:us-east-1:1:cluster/gone";
            let c = ClusterSummary::builder().identifier("gone").arn(arn).build().unwrap();
            ListClustersOutput::builder().clusters(c).build().unwrap()
        });
        let gone = mock!(aws_sdk_dsql::Client::list_tags_for_resource).then_error(|| {
            let e = ResourceNotFoundException::builder()
                .message("The resource doesn't exist.")
                .resource_id("gone")
                .resource_type("cluster")
                .meta(aws_smithy_types::error::ErrorMetadata::builder().code("ResourceNotFoundException").build())
                .build()
                .unwrap();
            ListTagsForResourceError::ResourceNotFoundException(e)
        });
        let dsql = crate::mocks::mocked!(aws_sdk_dsql, [&listed, &gone]);
        let cluster = DsqlCluster {
            dsql,
            region: "us-east-1".into(),
            deletion_protection: true,
            deadline: std::time::Duration::from_secs(1),
        };
        let (tags, inputs) = (Tags::new(), Inputs::default());
        let cx = Cx {
            node: "dsql-cluster",
            project: "p",
            recorded_id: None,
            inputs: &inputs,
            tags: &tags,
            may_read_from_listing: false,
            follow_id: false,
        };
        assert!(Kind::read(&cluster, &cx).await.unwrap().is_none());
        assert_eq!((listed.num_calls(), gone.num_calls()), (1, 1));
    }
}
