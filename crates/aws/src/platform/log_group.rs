//! A CloudWatch log group with its retention. Logs are data: kept by `down` unless
//! `--destroy-data`.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as Group;
use temporalctl_engine::{
    AttrValue, Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes,
    replaced_not_updated,
};

use crate::errors::aws;
use crate::listings::Listings;
use crate::outputs::Output;
use crate::tags::{from_map, tag_by_arn, to_map};

pub struct LogGroup {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub name: String,
    pub retention_days: i32,
    /// What every log group of its family starts with (`/ecs/<project>/`): one listing
    /// by it answers every group's first look.
    pub family_prefix: String,
    /// The family's name among the run's listings (one listing per family).
    pub family: &'static str,
    pub listings: Listings,
}

impl LogGroup {
    /// The groups whose names start with `prefix`, every page.
    async fn list(&self, prefix: &str) -> Result<Vec<Group>, ResourceError> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let request = self.logs.describe_log_groups().log_group_name_prefix(prefix);
            let page = request.set_next_token(token).send().await.map_err(aws("DescribeLogGroups"))?;
            groups.extend(page.log_groups().iter().cloned());
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(groups);
            }
        }
    }
}

/// How long events are kept; none means forever.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Days(pub Option<i32>);

impl AttrValue for Days {
    fn text(&self) -> String {
        self.0.map_or_else(|| "never-expire".into(), |d| d.to_string())
    }
}

attributes! {
    pub struct LogGroupAttrs / LogGroupField {
        Name name: String = "name", replace;
        RetentionDays retention_days: Days = "retention-days";
    }
}

#[async_trait]
impl Kind for LogGroup {
    type Attrs = LogGroupAttrs;

    fn kind(&self) -> &'static str {
        "log-group"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<LogGroupAttrs, ResourceError> {
        Ok(LogGroupAttrs { name: self.name.clone(), retention_days: Days(Some(self.retention_days)) })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<LogGroupAttrs>>, ResourceError> {
        let group = self
            .listings
            .find(
                cx.may_read_from_listing && self.name.starts_with(&self.family_prefix),
                self.family,
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
                .output(Output::Arn, arn)
                .tags(from_map(tags.tags()))
                .found(LogGroupAttrs { name: self.name.clone(), retention_days: Days(group.retention_in_days()) }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &LogGroupAttrs) -> Result<Observed, ResourceError> {
        self.logs
            .create_log_group()
            .log_group_name(&self.name)
            .set_tags(Some(to_map(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateLogGroup"))?;
        self.set_retention(&desired.retention_days).await?;
        // The ARN comes from the next read.
        let found = Kind::read(self, cx).await?.map(|found| found.observed);
        Ok(found.unwrap_or_else(|| Observed::new(&self.name).tags(cx.tags.clone())))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<LogGroupAttrs>>,
        desired: &LogGroupAttrs,
        changed: &[LogGroupField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                LogGroupField::RetentionDays => self.set_retention(&desired.retention_days).await?,
                LogGroupField::Name => return Err(replaced_not_updated("log-group", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        tag_by_arn!(self.logs, o, to_map(cx.tags))
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<LogGroupAttrs>>) -> Result<(), ResourceError> {
        self.logs.delete_log_group().log_group_name(&self.name).send().await.map_err(aws("DeleteLogGroup"))?;
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }
}

impl LogGroup {
    async fn set_retention(&self, days: &Days) -> Result<(), ResourceError> {
        match days.0 {
            Some(days) => self
                .logs
                .put_retention_policy()
                .log_group_name(&self.name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(aws("PutRetentionPolicy"))
                .map(drop),
            None => self
                .logs
                .delete_retention_policy()
                .log_group_name(&self.name)
                .send()
                .await
                .map_err(aws("DeleteRetentionPolicy"))
                .map(drop),
        }
    }
}
