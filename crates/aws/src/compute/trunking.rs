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
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError};

use crate::errors::aws;

pub struct AwsvpcTrunking {
    pub ecs: aws_sdk_ecs::Client,
    /// The instance role, whose ARN is the principal.
    pub role: NodeId,
}

impl AwsvpcTrunking {
    async fn put(&self, principal: &str) -> Result<Observed, ResourceError> {
        self.ecs
            .put_account_setting()
            .name(SettingName::AwsvpcTrunking)
            .value("enabled")
            .principal_arn(principal)
            .send()
            .await
            .map_err(aws("PutAccountSetting"))?;
        Ok(Observed::new(principal).attr("principal", principal).attr("value", "enabled"))
    }
}

#[async_trait]
impl Resource for AwsvpcTrunking {
    fn kind(&self) -> &'static str {
        "ecs-account-setting"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("principal".into(), inputs.get(&self.role, "arn")?.to_string()),
            ("value".into(), "enabled".into()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["principal"]
    }

    /// Reads use no inputs: the recorded id is the principal. Before the first `up`
    /// there is none, and `create` (idempotent) puts the setting.
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
        Ok(Some(Observed::new(principal).attr("principal", principal).attr("value", value).tags(cx.tags.clone())))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let principal = desired.get("principal").cloned().unwrap_or_default();
        Ok(self.put(&principal).await?.tags(cx.tags.clone()))
    }

    async fn update(&self, _: &Cx<'_>, _: &Observed, desired: &Attrs, _: &[String]) -> Result<(), ResourceError> {
        self.put(desired.get("principal").map(String::as_str).unwrap_or_default()).await.map(|_| ())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        Ok(())
    }
}
