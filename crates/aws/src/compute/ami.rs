//! The ECS-optimized AMI, resolved from AWS's public SSM parameter. A lookup, not a
//! resource of ours: it is never created, changed or deleted, and a new AMI published
//! by AWS shows up in `plan` as a launch template change.

use async_trait::async_trait;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError, Retention};

use crate::errors::aws;

pub struct EcsAmi {
    pub ssm: aws_sdk_ssm::Client,
    pub parameter: String,
    pub region: String,
}

#[async_trait]
impl Resource for EcsAmi {
    fn kind(&self) -> &'static str {
        "ami-lookup"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([("parameter".into(), self.parameter.clone())]))
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let out = match self.ssm.get_parameter().name(&self.parameter).send().await.map_err(aws("GetParameter")) {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let image = out.parameter.and_then(|p| p.value).unwrap_or_default();
        // AWS's, not ours to tag: it stands as ours so it is never "drifted".
        Ok(Some(Observed::new(image).attr("parameter", &self.parameter).tags(cx.tags.clone())))
    }

    async fn create(&self, _: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "the SSM parameter {} does not exist in {}: this region publishes no ECS-optimized Amazon Linux 2023 arm64 AMI; choose a region with Graviton ECS support",
            self.parameter, self.region
        )))
    }

    async fn update(&self, _: &Cx<'_>, _: &Observed, _: &Attrs, _: &[String]) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Lookup
    }
}
