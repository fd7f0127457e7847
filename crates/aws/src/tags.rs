//! Our tags in each SDK's shape. Every service has its own `Tag` type, with builders that
//! agree: one converter for all of them, instead of a copy per module.

/// `sdk_tags!(aws_sdk_ecr::types::Tag, cx.tags)`: the tags as a `Vec` of that type, or
/// the builder's error (a missing key or value) as a fatal `ResourceError`.
macro_rules! sdk_tags {
    ($tag:ty, $tags:expr) => {
        $tags
            .iter()
            .map(|(k, v)| <$tag>::builder().key(k).value(v).build())
            .collect::<Result<Vec<$tag>, _>>()
            .map_err(|e| temporalctl_engine::ResourceError::fatal(e.to_string()))
    };
}

pub(crate) use sdk_tags;
