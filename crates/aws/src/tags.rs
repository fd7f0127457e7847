//! Our tags in each SDK's shape, one converter per direction. Every service has its own
//! `Tag` type (or a plain string map), with builders that agree.

use std::collections::HashMap;

use temporalctl_engine::Tags;

/// `sdk_tags!(aws_sdk_ecr::types::Tag, cx.tags)`: the tags as a `Vec` of that type, or
/// the builder's error (a missing key or value) as a fatal `ResourceError`. SDKs whose
/// builder cannot fail (ECS, Secrets Manager) take `sdk_tags!(infallible Type, tags)`.
macro_rules! sdk_tags {
    (infallible $tag:ty, $tags:expr) => {
        $tags.iter().map(|(k, v)| <$tag>::builder().key(k).value(v).build()).collect::<Vec<$tag>>()
    };
    ($tag:ty, $tags:expr) => {
        $tags
            .iter()
            .map(|(k, v)| <$tag>::builder().key(k).value(v).build())
            .collect::<Result<Vec<$tag>, _>>()
            .map_err(|e| temporalctl_engine::ResourceError::fatal(e.to_string()))
    };
}

pub(crate) use sdk_tags;

/// `retag` for the services whose `TagResource` takes the resource's ARN (recorded as its
/// `arn` output) and adds or overwrites the given tags:
/// `tag_by_arn!(self.dsql, observed, to_map(cx.tags))`.
macro_rules! tag_by_arn {
    ($client:expr, $observed:expr, $tags:expr) => {{
        let arn = $observed.outputs.get($crate::outputs::Output::Arn.as_ref()).cloned().unwrap_or_default();
        $client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some($tags))
            .send()
            .await
            .map_err($crate::errors::aws("TagResource"))?;
        Ok(())
    }};
}

pub(crate) use tag_by_arn;

/// The tags as a string map, the shape DSQL, Prometheus, Cloud Watch Logs and Secrets
/// Manager's neighbours take.
pub fn to_map(tags: &Tags) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A tag as one SDK returns it.
pub trait SdkTag {
    fn pair(&self) -> Option<(&str, &str)>;
}

/// SDKs whose tag key and value are optional in their model.
macro_rules! optional_pairs {
    ($($t:ty),*) => {$(
        impl SdkTag for $t {
            fn pair(&self) -> Option<(&str, &str)> {
                Some((self.key()?, self.value().unwrap_or_default()))
            }
        }
    )*};
}
optional_pairs!(
    aws_sdk_ec2::types::Tag,
    aws_sdk_ecs::types::Tag,
    aws_sdk_autoscaling::types::TagDescription,
    aws_sdk_secretsmanager::types::Tag,
    aws_sdk_elasticloadbalancingv2::types::Tag
);

/// SDKs whose tag key and value are required.
macro_rules! required_pairs {
    ($($t:ty),*) => {$(
        impl SdkTag for $t {
            fn pair(&self) -> Option<(&str, &str)> {
                Some((self.key(), self.value()))
            }
        }
    )*};
}
required_pairs!(
    aws_sdk_iam::types::Tag,
    aws_sdk_ecr::types::Tag,
    aws_sdk_ssm::types::Tag,
    aws_sdk_servicediscovery::types::Tag,
    aws_sdk_opensearch::types::Tag,
    aws_sdk_dynamodb::types::Tag
);

/// Tags as AWS returned them, whatever the SDK.
pub fn from_sdk<T: SdkTag>(tags: &[T]) -> Tags {
    tags.iter().filter_map(SdkTag::pair).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Tags from a string map (absent means none).
pub fn from_map(tags: Option<&HashMap<String, String>>) -> Tags {
    tags.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()
}
