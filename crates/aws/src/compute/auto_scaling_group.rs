//! A node group's Auto Scaling group, in the private subnets, on the latest version of
//! its launch template. Its tags propagate to the instances, so every instance names its
//! project and group. The desired capacity is set at creation only: afterwards it belongs
//! to the capacity provider's managed scaling, and `up` must not fight it.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup as Group, LaunchTemplateSpecification, Tag};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError, Status, Tags};

use crate::errors::aws;
use crate::listings::Listings;
use crate::network::ec2::{attr, set};

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

/// A group's tags as a map (Auto Scaling has its own tag type).
pub fn group_tags(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Tags {
    g.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

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

fn number(desired: &Attrs, key: &str) -> Result<i32, ResourceError> {
    attr(desired, key)?.parse().map_err(|_| ResourceError::fatal(format!("`{key}` is not a number")))
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

    fn template(desired: &Attrs) -> Result<LaunchTemplateSpecification, ResourceError> {
        let id = attr(desired, "launch-template")?.trim_end_matches(&format!(":{LATEST}")).to_string();
        Ok(LaunchTemplateSpecification::builder().launch_template_id(id).version(LATEST).build())
    }
}

#[async_trait]
impl Resource for AutoScalingGroup {
    fn kind(&self) -> &'static str {
        "auto-scaling-group"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let subnets: Vec<&str> = self.subnets.iter().map(|s| inputs.get(s, "id")).collect::<Result<_, _>>()?;
        Ok(Attrs::from([
            ("launch-template".into(), format!("{}:{LATEST}", inputs.get(&self.launch_template, "id")?)),
            ("min-size".into(), self.min_size.to_string()),
            ("max-size".into(), self.max_size.to_string()),
            ("subnets".into(), set(subnets)),
        ]))
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let Some(g) = self.describe(cx).await? else { return Ok(None) };
        let template = g
            .launch_template()
            .map(|t| format!("{}:{}", t.launch_template_id().unwrap_or_default(), t.version().unwrap_or_default()))
            .unwrap_or_else(|| "none".into());
        let subnets = set(g.vpc_zone_identifier().unwrap_or_default().split(','));
        let tags = group_tags(&g);
        // A group being deleted says so in `status`; a live one has none.
        let status = match g.status() {
            Some(s) => Status::Pending(s.to_string()),
            None => Status::Ready,
        };
        Ok(Some(
            Observed::new(g.auto_scaling_group_name().unwrap_or_default())
                .attr("launch-template", template)
                .attr("min-size", g.min_size().unwrap_or_default().to_string())
                .attr("max-size", g.max_size().unwrap_or_default().to_string())
                .attr("subnets", subnets)
                .output("arn", g.auto_scaling_group_arn().unwrap_or_default())
                .output("desired-capacity", g.desired_capacity().unwrap_or_default().to_string())
                .tags(tags)
                .status(status),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&self.name)
            .launch_template(Self::template(desired)?)
            .min_size(number(desired, "min-size")?)
            .max_size(number(desired, "max-size")?)
            .desired_capacity(self.desired_capacity as i32)
            .vpc_zone_identifier(attr(desired, "subnets")?)
            .set_tags(Some(asg_tags(&self.name, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateAutoScalingGroup"))?;
        // The create answers nothing; the capacity provider needs the group's ARN.
        self.read(cx).await?.ok_or_else(|| {
            ResourceError::new(
                temporalctl_engine::ErrorClass::Retryable(temporalctl_engine::RetryReason::Propagation),
                format!("Auto Scaling group {} is not visible yet", self.name),
            )
        })
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c != "tags") {
            let (min, max) = (number(desired, "min-size")?, number(desired, "max-size")?);
            let current: i32 = o.outputs.get("desired-capacity").and_then(|d| d.parse().ok()).unwrap_or(min);
            // AWS refuses a range that excludes the current capacity: move it inside.
            let clamped = current.clamp(min, max);
            self.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&self.name)
                .launch_template(Self::template(desired)?)
                .min_size(min)
                .max_size(max)
                .set_desired_capacity((clamped != current).then_some(clamped))
                .vpc_zone_identifier(attr(desired, "subnets")?)
                .send()
                .await
                .map_err(aws("UpdateAutoScalingGroup"))?;
        }
        if changed.iter().any(|c| c == "tags") {
            self.autoscaling
                .create_or_update_tags()
                .set_tags(Some(asg_tags(&self.name, cx.tags)))
                .send()
                .await
                .map_err(aws("CreateOrUpdateTags"))?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
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
