//! ECS `awsvpcTrunking` for the instance role. ECS account settings belong to a principal,
//! and "the account setting of the IAM principal that registers the container instance"
//! decides whether an instance gets a trunk interface (AWS, "Amazon ECS account settings",
//! and "Increasing Amazon ECS Linux container instance network interfaces"). The ECS agent
//! registers with the instance role, so a setting put by the person running temporalctl
//! does not reach the instances. In the graph only when `node_groups.awsvpc_trunking` is
//! true (it is turned on when asked, never silently), before the launch templates, so every
//! instance starts with it. The setting lives and dies with the role: `down` removes the
//! role, and nothing is left to delete here.

use async_trait::async_trait;
use aws_sdk_ecs::types::SettingName;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use crate::errors::aws;
use crate::outputs::Output;

pub struct AwsvpcTrunking {
    pub ecs: aws_sdk_ecs::Client,
    /// The instance role, whose ARN is the principal.
    pub role: NodeId,
}

const ENABLED: &str = "enabled";

impl AwsvpcTrunking {
    async fn put(&self, principal: &str) -> Result<(), ResourceError> {
        self.ecs
            .put_account_setting()
            .name(SettingName::AwsvpcTrunking)
            .value(ENABLED)
            .principal_arn(principal)
            .send()
            .await
            .map_err(aws("PutAccountSetting"))?;
        Ok(())
    }
}

attributes! {
    pub struct AwsvpcTrunkingAttrs / AwsvpcTrunkingField {
        /// The role whose setting it is.
        Principal principal: String = "principal", replace;
        Value value: String = "value";
    }
}

#[async_trait]
impl Kind for AwsvpcTrunking {
    type Attrs = AwsvpcTrunkingAttrs;

    fn kind(&self) -> &'static str {
        "ecs-account-setting"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.role.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<AwsvpcTrunkingAttrs, ResourceError> {
        Ok(AwsvpcTrunkingAttrs { principal: inputs.get(&self.role, Output::Arn)?.to_string(), value: ENABLED.into() })
    }

    /// Reads use no inputs: the recorded id is the principal. Before the first `up`
    /// there is none, and `create` (idempotent) puts the setting.
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<AwsvpcTrunkingAttrs>>, ResourceError> {
        let Some(principal) = cx.recorded_id else { return Ok(None) };
        let out = self
            .ecs
            .list_account_settings()
            .name(SettingName::AwsvpcTrunking)
            .principal_arn(principal)
            .effective_settings(true)
            .send()
            .await
            .map_err(aws("ListAccountSettings"))?;
        let value = out.settings().first().and_then(|s| s.value()).unwrap_or("disabled");
        // A setting carries no tags: it stands as ours, being the setting of our role.
        Ok(Some(
            Observed::new(principal)
                .tags(cx.tags.clone())
                .found(AwsvpcTrunkingAttrs { principal: principal.into(), value: value.into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &AwsvpcTrunkingAttrs) -> Result<Observed, ResourceError> {
        self.put(&desired.principal).await?;
        Ok(Observed::new(&desired.principal).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<AwsvpcTrunkingAttrs>>,
        desired: &AwsvpcTrunkingAttrs,
        changed: &[AwsvpcTrunkingField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                AwsvpcTrunkingField::Value => self.put(&desired.principal).await?,
                AwsvpcTrunkingField::Principal => return Err(replaced_not_updated("ecs-account-setting", field)),
            }
        }
        Ok(())
    }

    /// A setting carries no tags.
    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<AwsvpcTrunkingAttrs>>) -> Result<(), ResourceError> {
        Ok(())
    }
}
