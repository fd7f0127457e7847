//! The instance profile that hands the ECS instance role to the node groups' instances.

use async_trait::async_trait;
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError};

use crate::errors::{aws, gone_is_ok};
use crate::network::ec2::attr;

pub struct InstanceProfile {
    pub iam: aws_sdk_iam::Client,
    pub name: String,
    pub role: NodeId,
}

#[async_trait]
impl Resource for InstanceProfile {
    fn kind(&self) -> &'static str {
        "iam-instance-profile"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("role".into(), inputs.get(&self.role, "id")?.to_string()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let profile = match self
            .iam
            .get_instance_profile()
            .instance_profile_name(&self.name)
            .send()
            .await
            .map_err(aws("GetInstanceProfile"))
        {
            Ok(out) => {
                out.instance_profile.ok_or_else(|| ResourceError::fatal("GetInstanceProfile returned no profile"))?
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let role = profile.roles().first().map(|r| r.role_name().to_string()).unwrap_or_default();
        let tags = profile.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok(Some(
            Observed::new(profile.instance_profile_name())
                .attr("name", profile.instance_profile_name())
                .attr("role", role)
                .output("arn", profile.arn())
                .tags(tags),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .iam
            .create_instance_profile()
            .instance_profile_name(&self.name)
            .set_tags(Some(super::tags(cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateInstanceProfile"))?;
        let arn = out.instance_profile.map(|p| p.arn).unwrap_or_default();
        self.iam
            .add_role_to_instance_profile()
            .instance_profile_name(&self.name)
            .role_name(attr(desired, "role")?)
            .send()
            .await
            .map_err(aws("AddRoleToInstanceProfile"))?;
        Ok(Observed::new(&self.name).output("arn", arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                "role" => {
                    self.remove_role(o).await?;
                    self.iam
                        .add_role_to_instance_profile()
                        .instance_profile_name(&self.name)
                        .role_name(attr(desired, field)?)
                        .send()
                        .await
                        .map_err(aws("AddRoleToInstanceProfile"))?;
                }
                "tags" => {
                    self.iam
                        .tag_instance_profile()
                        .instance_profile_name(&self.name)
                        .set_tags(Some(super::tags(cx.tags)?))
                        .send()
                        .await
                        .map_err(aws("TagInstanceProfile"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        self.remove_role(o).await?;
        self.iam
            .delete_instance_profile()
            .instance_profile_name(&self.name)
            .send()
            .await
            .map_err(aws("DeleteInstanceProfile"))?;
        Ok(())
    }
}

impl InstanceProfile {
    async fn remove_role(&self, o: &Observed) -> Result<(), ResourceError> {
        let Some(role) = o.attrs.get("role").filter(|r| !r.is_empty()) else { return Ok(()) };
        gone_is_ok(
            self.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(&self.name)
                .role_name(role)
                .send()
                .await
                .map_err(aws("RemoveRoleFromInstanceProfile")),
        )
    }
}
