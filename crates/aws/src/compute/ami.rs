//! The ECS-optimized AMI, resolved from AWS's public SSM parameter. A lookup, not a
//! resource of ours: it is never created, changed or deleted, and a new AMI published
//! by AWS shows up in `plan` as a launch template change.

use async_trait::async_trait;
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes};

use crate::errors::{absent_if_gone, aws};

pub struct EcsAmi {
    pub ssm: aws_sdk_ssm::Client,
    pub parameter: String,
    pub region: String,
}

attributes! {
    pub struct EcsAmiAttrs / EcsAmiField {
        /// The public parameter naming the AMI.
        Parameter parameter: String = "parameter";
    }
}

/// AWS's, not ours: never created, changed, tagged or deleted.
#[async_trait]
impl Kind for EcsAmi {
    type Attrs = EcsAmiAttrs;

    fn kind(&self) -> &'static str {
        "ami-lookup"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<EcsAmiAttrs, ResourceError> {
        Ok(EcsAmiAttrs { parameter: self.parameter.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<EcsAmiAttrs>>, ResourceError> {
        let Some(out) =
            absent_if_gone(self.ssm.get_parameter().name(&self.parameter).send().await.map_err(aws("GetParameter")))?
        else {
            return Ok(None);
        };
        let image = out.parameter.and_then(|p| p.value).unwrap_or_default();
        // AWS's, not ours to tag: it stands as ours so it is never "drifted".
        Ok(Some(Observed::new(image).tags(cx.tags.clone()).found(EcsAmiAttrs { parameter: self.parameter.clone() })))
    }

    async fn create(&self, _: &Cx<'_>, _: &EcsAmiAttrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "the SSM parameter {} does not exist in {}: this region publishes no ECS-optimized Amazon Linux 2023 arm64 AMI; choose a region with Graviton ECS support",
            self.parameter, self.region
        )))
    }

    /// The parameter's name is ours and always matches: nothing to update.
    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<EcsAmiAttrs>>,
        _: &EcsAmiAttrs,
        changed: &[EcsAmiField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                EcsAmiField::Parameter => {}
            }
        }
        Ok(())
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<EcsAmiAttrs>>) -> Result<(), ResourceError> {
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Lookup
    }
}
