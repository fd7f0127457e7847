//! The SSM parameter holding the ADOT collector configuration (rendered from the AMP
//! workspace's endpoint by `documents::adot`).

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError};

use crate::documents::adot;
use crate::errors::aws;
use crate::network::ec2::attr;
use crate::tags::sdk_tags;

pub struct AdotParameter {
    pub ssm: aws_sdk_ssm::Client,
    pub name: String,
    pub region: String,
    pub workspace: NodeId,
}

#[async_trait]
impl Resource for AdotParameter {
    fn kind(&self) -> &'static str {
        "ssm-parameter"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let endpoint = inputs.get(&self.workspace, "prometheus-endpoint")?;
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("value".into(), adot::collector_config(&self.region, endpoint)),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let p = match self.ssm.get_parameter().name(&self.name).send().await.map_err(aws("GetParameter")) {
            Ok(out) => out.parameter.ok_or_else(|| ResourceError::fatal("GetParameter returned nothing"))?,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
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
                .attr("name", &self.name)
                .attr("value", p.value().unwrap_or_default())
                .output("arn", p.arn().unwrap_or_default())
                .tags(tags.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        self.ssm
            .put_parameter()
            .name(&self.name)
            .description("ADOT collector configuration (temporalctl)")
            .value(attr(desired, "value")?)
            .r#type(ParameterType::String)
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("PutParameter"))?;
        self.read(cx).await?.ok_or_else(|| ResourceError::fatal("parameter missing right after PutParameter"))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        _: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                // Overwrite takes no tags; they are kept.
                "value" => {
                    self.ssm
                        .put_parameter()
                        .name(&self.name)
                        .value(attr(desired, field)?)
                        .r#type(ParameterType::String)
                        .overwrite(true)
                        .send()
                        .await
                        .map_err(aws("PutParameter"))?;
                }
                "tags" => {
                    self.ssm
                        .add_tags_to_resource()
                        .resource_type(ResourceTypeForTagging::Parameter)
                        .resource_id(&self.name)
                        .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
                        .send()
                        .await
                        .map_err(aws("AddTagsToResource"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        self.ssm.delete_parameter().name(&self.name).send().await.map_err(aws("DeleteParameter"))?;
        Ok(())
    }
}
