//! The Aurora DSQL cluster, with deletion protection on. IAM authentication only: no
//! credential is stored anywhere.

use async_trait::async_trait;
use aws_sdk_dsql::types::ClusterStatus;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError, Retention, Status, Tags, owned_by};

use crate::errors::aws;
use crate::network::ec2::attr;
use crate::network::ec2::one;

pub struct DsqlCluster {
    pub dsql: aws_sdk_dsql::Client,
    pub region: String,
    pub deletion_protection: bool,
    pub deadline: std::time::Duration,
}

fn status(s: &ClusterStatus) -> Option<Status> {
    match s {
        ClusterStatus::Active | ClusterStatus::Idle => Some(Status::Ready),
        ClusterStatus::Deleted | ClusterStatus::Failed | ClusterStatus::Inactive => None,
        other => Some(Status::Pending(other.as_str().to_lowercase())),
    }
}

/// The cluster's endpoint, as AWS names it when the response leaves it out.
fn endpoint(given: Option<&str>, identifier: &str, region: &str) -> String {
    given.map(String::from).unwrap_or_else(|| format!("{identifier}.dsql.{region}.on.aws"))
}

fn tag_map(t: Option<&std::collections::HashMap<String, String>>) -> Tags {
    t.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

#[async_trait]
impl Resource for DsqlCluster {
    fn kind(&self) -> &'static str {
        "dsql-cluster"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([("deletion-protection".into(), self.deletion_protection.to_string())]))
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let id = match cx.recorded_id {
            Some(id) => Some(id.to_string()),
            None => self.find_by_tags(cx).await?,
        };
        let Some(id) = id else { return Ok(None) };
        let c = match self.dsql.get_cluster().identifier(&id).send().await.map_err(aws("GetCluster")) {
            Ok(c) => c,
            // Recorded but gone: maybe recreated by an interrupted run, so look by tags.
            Err(e) if e.is_not_found() && cx.recorded_id.is_some() => {
                return self.read(&Cx { recorded_id: None, ..*cx }).await;
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(status) = status(c.status()) else { return Ok(None) };
        let endpoint = endpoint(c.endpoint(), c.identifier(), &self.region);
        Ok(Some(crate::operate::expose_step_tags(
            Observed::new(c.identifier())
                .attr("deletion-protection", c.deletion_protection_enabled().to_string())
                .output("arn", c.arn())
                .output("endpoint", endpoint)
                .tags(tag_map(c.tags()))
                .status(status),
        )))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .dsql
            .create_cluster()
            .deletion_protection_enabled(attr(desired, "deletion-protection")? == "true")
            .set_tags(Some(crate::platform::tag_map(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCluster"))?;
        let endpoint = endpoint(out.endpoint(), out.identifier(), &self.region);
        Ok(Observed::new(out.identifier())
            .output("arn", out.arn())
            .output("endpoint", endpoint)
            .tags(cx.tags.clone())
            .status(status(out.status()).unwrap_or(Status::Pending("creating".into()))))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                "deletion-protection" => self.protect(&o.id, attr(desired, field)? == "true").await?,
                "tags" => {
                    let arn = o.outputs.get("arn").cloned().unwrap_or_default();
                    self.dsql
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(crate::platform::tag_map(cx.tags)))
                        .send()
                        .await
                        .map_err(aws("TagResource"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        // Only `down --destroy-data` comes here: protection off first, as the user asked.
        if o.attrs.get("deletion-protection").map(String::as_str) != Some("false") {
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

    async fn find_by_tags(&self, cx: &Cx<'_>) -> Result<Option<String>, ResourceError> {
        let out = self.dsql.list_clusters().send().await.map_err(aws("ListClusters"))?;
        let mut ours = Vec::new();
        for c in out.clusters() {
            let tags = self
                .dsql
                .list_tags_for_resource()
                .resource_arn(c.arn())
                .send()
                .await
                .map_err(aws("ListTagsForResource"))?;
            let tags = tag_map(tags.tags());
            if owned_by(&tags, cx.project, cx.node) {
                ours.push(c.identifier().to_string());
            }
        }
        one(ours, "DSQL cluster", |id| Some(id.as_str()))
    }
}
