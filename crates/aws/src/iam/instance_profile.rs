//! The instance profile that hands the ECS instance role to the node groups' instances.

use async_trait::async_trait;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

pub struct InstanceProfile {
    pub iam: aws_sdk_iam::Client,
    pub name: String,
    pub role: NodeId,
}

attributes! {
    pub struct InstanceProfileAttrs / InstanceProfileField {
        Name name: String = "name", replace;
        /// The role's name (empty when none).
        Role role: String = "role";
    }
}

#[async_trait]
impl Kind for InstanceProfile {
    type Attrs = InstanceProfileAttrs;

    fn kind(&self) -> &'static str {
        "iam-instance-profile"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.role.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<InstanceProfileAttrs, ResourceError> {
        Ok(InstanceProfileAttrs { name: self.name.clone(), role: inputs.get(&self.role, Output::Id)?.to_string() })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<InstanceProfileAttrs>>, ResourceError> {
        let get = self.iam.get_instance_profile().instance_profile_name(&self.name).send().await;
        let Some(out) = absent_if_gone(get.map_err(aws("GetInstanceProfile")))? else { return Ok(None) };
        let profile =
            out.instance_profile.ok_or_else(|| ResourceError::fatal("GetInstanceProfile returned no profile"))?;
        let role = profile.roles().first().map(|r| r.role_name().to_string()).unwrap_or_default();
        Ok(Some(
            Observed::new(profile.instance_profile_name())
                .output(Output::Arn, profile.arn())
                .tags(from_sdk(profile.tags()))
                .found(InstanceProfileAttrs { name: profile.instance_profile_name().into(), role }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &InstanceProfileAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .iam
            .create_instance_profile()
            .instance_profile_name(&self.name)
            .set_tags(Some(sdk_tags!(aws_sdk_iam::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateInstanceProfile"))?;
        let arn = out.instance_profile.map(|p| p.arn).unwrap_or_default();
        self.add_role(&desired.role).await?;
        Ok(Observed::new(&self.name).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<InstanceProfileAttrs>>,
        desired: &InstanceProfileAttrs,
        changed: &[InstanceProfileField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                InstanceProfileField::Role => {
                    self.remove_role(&o.attrs.role).await?;
                    self.add_role(&desired.role).await?;
                }
                InstanceProfileField::Name => return Err(replaced_not_updated("iam-instance-profile", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        self.iam
            .tag_instance_profile()
            .instance_profile_name(&self.name)
            .set_tags(Some(sdk_tags!(aws_sdk_iam::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("TagInstanceProfile"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<InstanceProfileAttrs>>) -> Result<(), ResourceError> {
        self.remove_role(&o.attrs.role).await?;
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
    async fn add_role(&self, role: &str) -> Result<(), ResourceError> {
        self.iam
            .add_role_to_instance_profile()
            .instance_profile_name(&self.name)
            .role_name(role)
            .send()
            .await
            .map_err(aws("AddRoleToInstanceProfile"))?;
        Ok(())
    }

    async fn remove_role(&self, role: &str) -> Result<(), ResourceError> {
        if role.is_empty() {
            return Ok(());
        }
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
