//! ECS workloads: task definitions and services, and the tag helpers every ECS resource
//! (cluster, capacity providers too) shares.

pub mod service;
pub mod task_definition;

use aws_sdk_ecs::types::Tag;
use temporalctl_engine::{ResourceError, Tags};

use crate::errors::aws;

pub fn to_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub fn tag_map(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

/// Put the desired tags on an ECS resource (values overwritten, others' tags left alone).
pub async fn ensure_tags(ecs: &aws_sdk_ecs::Client, arn: &str, tags: &Tags) -> Result<(), ResourceError> {
    ecs.tag_resource().resource_arn(arn).set_tags(Some(to_tags(tags))).send().await.map_err(aws("TagResource"))?;
    Ok(())
}
