//! A CloudWatch log group with its retention. Logs are data: kept by `down` unless
//! `--destroy-data`.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as Group;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError, Retention};

use crate::errors::aws;
use crate::listings::Listings;
use crate::network::ec2::attr;

pub struct LogGroup {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub name: String,
    pub retention_days: i32,
    /// What every log group of the stack starts with (`/ecs/<project>/`): one listing
    /// by it answers every group's first look.
    pub family_prefix: String,
    pub listings: Listings,
}

impl LogGroup {
    /// The groups whose names start with `prefix`, every page.
    async fn list(&self, prefix: &str) -> Result<Vec<Group>, ResourceError> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("DescribeLogGroups"))?;
            groups.extend(page.log_groups().iter().cloned());
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(groups);
            }
        }
    }
}

#[async_trait]
impl Resource for LogGroup {
    fn kind(&self) -> &'static str {
        "log-group"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("retention-days".into(), self.retention_days.to_string()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let group = self
            .listings
            .find(
                cx.may_read_from_listing && self.name.starts_with(&self.family_prefix),
                "log group",
                (self.family_prefix.as_str(), self.name.as_str()),
                |prefix| self.list(prefix),
                |g: &Group| g.log_group_name() == Some(self.name.as_str()),
            )
            .await?;
        let Some(group) = group else {
            return Ok(None);
        };
        // Tags are read with the ARN without its `:*` suffix.
        let arn = group
            .log_group_arn()
            .map(String::from)
            .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
            .unwrap_or_default();
        let tags =
            self.logs.list_tags_for_resource().resource_arn(&arn).send().await.map_err(aws("ListTagsForResource"))?;
        Ok(Some(
            Observed::new(&self.name)
                .attr("name", &self.name)
                .attr(
                    "retention-days",
                    group.retention_in_days().map(|d| d.to_string()).unwrap_or_else(|| "never-expire".into()),
                )
                .output("arn", arn)
                .tags(tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        self.logs
            .create_log_group()
            .log_group_name(&self.name)
            .set_tags(Some(super::tag_map(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateLogGroup"))?;
        let created = Observed::new(&self.name).tags(cx.tags.clone());
        self.update(cx, &created, desired, &["retention-days".into()]).await?;
        // The ARN comes from the next read.
        Ok(self.read(cx).await?.unwrap_or(created))
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
                "retention-days" => {
                    let days: i32 =
                        attr(desired, field)?.parse().map_err(|_| ResourceError::fatal("retention is not a number"))?;
                    self.logs
                        .put_retention_policy()
                        .log_group_name(&self.name)
                        .retention_in_days(days)
                        .send()
                        .await
                        .map_err(aws("PutRetentionPolicy"))?;
                }
                "tags" => {
                    let arn = o.outputs.get("arn").cloned().unwrap_or_default();
                    self.logs
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(super::tag_map(cx.tags)))
                        .send()
                        .await
                        .map_err(aws("TagResource"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        self.logs.delete_log_group().log_group_name(&self.name).send().await.map_err(aws("DeleteLogGroup"))?;
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }
}
