//! The SSM parameter holding the ADOT collector configuration (rendered from the AMP
//! workspace's endpoint by `documents::adot`).

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use crate::documents::adot;
use crate::errors::{absent_if_gone, aws};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

pub struct AdotParameter {
    pub ssm: aws_sdk_ssm::Client,
    pub name: String,
    pub region: String,
    /// The collector finds the tasks of this project's Temporal services in this cluster.
    pub project: String,
    pub cluster: String,
    pub workspace: NodeId,
}

attributes! {
    pub struct AdotParameterAttrs / AdotParameterField {
        Name name: String = "name", replace;
        /// The collector configuration.
        Value value: String = "value";
    }
}

#[async_trait]
impl Kind for AdotParameter {
    type Attrs = AdotParameterAttrs;

    fn kind(&self) -> &'static str {
        "ssm-parameter"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.workspace.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<AdotParameterAttrs, ResourceError> {
        let endpoint = inputs.get(&self.workspace, Output::PrometheusEndpoint)?;
        Ok(AdotParameterAttrs {
            name: self.name.clone(),
            value: adot::collector_config(&self.region, endpoint, &self.project, &self.cluster),
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<AdotParameterAttrs>>, ResourceError> {
        let get = self.ssm.get_parameter().name(&self.name).send().await.map_err(aws("GetParameter"));
        let Some(out) = absent_if_gone(get)? else { return Ok(None) };
        let p = out.parameter.ok_or_else(|| ResourceError::fatal("GetParameter returned nothing"))?;
        let tags = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(&self.name)
            .send()
            .await
            .map_err(aws("ListTagsForResource"))?;
        Ok(Some(
            Observed::new(&self.name)
                .output(Output::Arn, p.arn().unwrap_or_default())
                .tags(from_sdk(tags.tag_list()))
                .found(AdotParameterAttrs { name: self.name.clone(), value: p.value().unwrap_or_default().into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &AdotParameterAttrs) -> Result<Observed, ResourceError> {
        self.ssm
            .put_parameter()
            .name(&self.name)
            .description("ADOT collector configuration (temporalctl)")
            .value(&desired.value)
            .r#type(ParameterType::String)
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("PutParameter"))?;
        let found = Kind::read(self, cx).await?.map(|found| found.observed);
        found.ok_or_else(|| ResourceError::fatal("parameter missing right after PutParameter"))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<AdotParameterAttrs>>,
        desired: &AdotParameterAttrs,
        changed: &[AdotParameterField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                // Overwrite takes no tags; they are kept.
                AdotParameterField::Value => {
                    self.ssm
                        .put_parameter()
                        .name(&self.name)
                        .value(&desired.value)
                        .r#type(ParameterType::String)
                        .overwrite(true)
                        .send()
                        .await
                        .map_err(aws("PutParameter"))?;
                }
                AdotParameterField::Name => return Err(replaced_not_updated("ssm-parameter", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        self.ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(&self.name)
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("AddTagsToResource"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<AdotParameterAttrs>>) -> Result<(), ResourceError> {
        self.ssm.delete_parameter().name(&self.name).send().await.map_err(aws("DeleteParameter"))?;
        Ok(())
    }
}
