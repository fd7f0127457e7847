//! ECS workloads: task definitions and services, and the tag helpers every ECS resource
//! (cluster, capacity providers too) shares.

pub mod service;
pub mod task_definition;

use aws_sdk_ecs::types::Tag;
use temporalctl_engine::{ResourceError, Tags};

use crate::errors::aws;
use crate::tags::sdk_tags;

/// Put the desired tags on an ECS resource (values overwritten, others' tags left alone).
pub async fn ensure_tags(ecs: &aws_sdk_ecs::Client, arn: &str, tags: &Tags) -> Result<(), ResourceError> {
    let tags = sdk_tags!(infallible Tag, tags);
    ecs.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(aws("TagResource"))?;
    Ok(())
}
