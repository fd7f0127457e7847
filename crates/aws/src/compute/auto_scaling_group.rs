//! A node group's Auto Scaling group, in the private subnets, on the latest version of
//! its launch template. Its tags propagate to the instances, so every instance names its
//! project and group. The desired capacity is set at creation only: afterwards it belongs
//! to the capacity provider's managed scaling, and `up` must not fight it.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup as Group, LaunchTemplateSpecification, Tag};
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, Tags, attributes};

use crate::errors::aws;
use crate::listings::Listings;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct AutoScalingGroup {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub name: String,
    pub launch_template: NodeId,
    pub subnets: Vec<NodeId>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    pub deadline: Duration,
    /// Every node group's Auto Scaling group: one listing answers all their first looks.
    pub family: Vec<String>,
    pub listings: Listings,
}

const LATEST: &str = "$Latest";

fn asg_tags(name: &str, tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .build()
        })
        .collect()
}

attributes! {
    pub struct AutoScalingGroupAttrs / AutoScalingGroupField {
        /// `<template id>:<version>`; we always ask for `$Latest`.
        LaunchTemplate launch_template: String = "launch-template";
        MinSize min_size: i32 = "min-size";
        MaxSize max_size: i32 = "max-size";
        Subnets subnets: BTreeSet<String> = "subnets";
    }
    read_only {
        /// Managed scaling's, never set by `up` after creation.
        desired_capacity: i32,
    }
}

fn size(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl AutoScalingGroup {
    async fn describe(&self, cx: &Cx<'_>) -> Result<Option<Group>, ResourceError> {
        self.listings
            .find(
                cx.may_read_from_listing,
                "auto scaling group",
                (self.family.as_slice(), std::slice::from_ref(&self.name)),
                |names| self.describe_named(names),
                |g: &Group| g.auto_scaling_group_name() == Some(self.name.as_str()),
            )
            .await
    }

    /// The named groups that exist, every page.
    async fn describe_named(&self, names: &[String]) -> Result<Vec<Group>, ResourceError> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .autoscaling
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(names.to_vec()))
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("DescribeAutoScalingGroups"))?;
            groups.extend(page.auto_scaling_groups().iter().cloned());
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(groups);
            }
        }
    }

    fn template(desired: &AutoScalingGroupAttrs) -> LaunchTemplateSpecification {
        let id = desired.launch_template.trim_end_matches(&format!(":{LATEST}"));
        LaunchTemplateSpecification::builder().launch_template_id(id).version(LATEST).build()
    }
}

/// The subnets as `VPCZoneIdentifier` takes them.
fn zone_identifier(subnets: &BTreeSet<String>) -> String {
    subnets.iter().map(String::as_str).collect::<Vec<_>>().join(",")
}

#[async_trait]
impl Kind for AutoScalingGroup {
    type Attrs = AutoScalingGroupAttrs;

    fn kind(&self) -> &'static str {
        "auto-scaling-group"
    }

    fn references(&self) -> Vec<NodeId> {
        [&self.launch_template].into_iter().chain(&self.subnets).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<AutoScalingGroupAttrs, ResourceError> {
        Ok(AutoScalingGroupAttrs {
            launch_template: format!("{}:{LATEST}", inputs.get(&self.launch_template, Output::Id)?),
            min_size: size(self.min_size),
            max_size: size(self.max_size),
            subnets: inputs.each(&self.subnets, Output::Id)?,
            ..Default::default()
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<AutoScalingGroupAttrs>>, ResourceError> {
        let Some(g) = self.describe(cx).await? else { return Ok(None) };
        let template = g
            .launch_template()
            .map(|t| format!("{}:{}", t.launch_template_id().unwrap_or_default(), t.version().unwrap_or_default()))
            .unwrap_or_else(|| "none".into());
        let subnets = g.vpc_zone_identifier().unwrap_or_default().split(',').filter(|s| !s.is_empty());
        // A group being deleted says so in `status`; a live one has none.
        let status = match g.status() {
            Some(s) => Status::Pending(s.to_string()),
            None => Status::Ready,
        };
        Ok(Some(
            Observed::new(g.auto_scaling_group_name().unwrap_or_default())
                .output(Output::Arn, g.auto_scaling_group_arn().unwrap_or_default())
                .tags(from_sdk(g.tags()))
                .status(status)
                .found(AutoScalingGroupAttrs {
                    launch_template: template,
                    min_size: g.min_size().unwrap_or_default(),
                    max_size: g.max_size().unwrap_or_default(),
                    subnets: subnets.map(String::from).collect(),
                    desired_capacity: g.desired_capacity().unwrap_or_default(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &AutoScalingGroupAttrs) -> Result<Observed, ResourceError> {
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&self.name)
            .launch_template(Self::template(desired))
            .min_size(desired.min_size)
            .max_size(desired.max_size)
            .desired_capacity(size(self.desired_capacity))
            .vpc_zone_identifier(zone_identifier(&desired.subnets))
            .set_tags(Some(asg_tags(&self.name, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateAutoScalingGroup"))?;
        // The create answers nothing; the capacity provider needs the group's ARN.
        Kind::read(self, cx).await?.map(|found| found.observed).ok_or_else(|| {
            ResourceError::new(
                temporalctl_engine::ErrorClass::Retryable(temporalctl_engine::RetryReason::Propagation),
                format!("Auto Scaling group {} is not visible yet", self.name),
            )
        })
    }

    /// One call sets every field; the field list only says that it is needed.
    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<AutoScalingGroupAttrs>>,
        desired: &AutoScalingGroupAttrs,
        changed: &[AutoScalingGroupField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                AutoScalingGroupField::LaunchTemplate
                | AutoScalingGroupField::MinSize
                | AutoScalingGroupField::MaxSize
                | AutoScalingGroupField::Subnets => {}
            }
        }
        let (min, max) = (desired.min_size, desired.max_size);
        let current = o.attrs.desired_capacity;
        // AWS refuses a range that excludes the current capacity: move it inside.
        let clamped = current.clamp(min, max);
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.name)
            .launch_template(Self::template(desired))
            .min_size(min)
            .max_size(max)
            .set_desired_capacity((clamped != current).then_some(clamped))
            .vpc_zone_identifier(zone_identifier(&desired.subnets))
            .send()
            .await
            .map_err(aws("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        self.autoscaling
            .create_or_update_tags()
            .set_tags(Some(asg_tags(&self.name, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateOrUpdateTags"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<AutoScalingGroupAttrs>>) -> Result<(), ResourceError> {
        // Terminates the instances too; the group lingers until they are gone.
        self.autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&self.name)
            .force_delete(true)
            .send()
            .await
            .map_err(aws("DeleteAutoScalingGroup"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }
}
