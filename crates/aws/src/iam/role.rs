//! An IAM role: trust policy, AWS managed policies, and our one inline policy.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::canonical_policy;
use crate::documents::canonical_json;
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

/// Name of the inline policy temporalctl manages on each role.
pub const INLINE: &str = "temporalctl";

/// Renders a policy from the dependencies' outputs (ARNs).
pub type PolicyFn = Arc<dyn Fn(&Inputs) -> Result<Value, ResourceError> + Send + Sync>;

pub struct Role {
    pub iam: aws_sdk_iam::Client,
    pub name: String,
    /// The trust policy; from `reads` too (a task role's names our account).
    pub trust: PolicyFn,
    /// Managed policy ARNs to attach.
    pub managed: Vec<String>,
    /// The nodes whose outputs (ARNs) `inline` reads.
    pub reads: Vec<NodeId>,
    pub inline: Option<PolicyFn>,
}

attributes! {
    pub struct RoleAttrs / RoleField {
        Name name: String = "name", replace;
        /// The trust policy as canonical JSON.
        Trust trust: String = "trust";
        /// Attached managed policies, by ARN.
        Managed managed: BTreeSet<String> = "managed";
        /// Our inline policy as canonical JSON, empty when there is none.
        Inline inline: String = "inline";
    }
}

#[async_trait]
impl Kind for Role {
    type Attrs = RoleAttrs;

    fn kind(&self) -> &'static str {
        "iam-role"
    }

    fn references(&self) -> Vec<NodeId> {
        self.reads.clone()
    }

    fn desired(&self, inputs: &Inputs) -> Result<RoleAttrs, ResourceError> {
        let inline = match &self.inline {
            Some(f) => canonical_json(&f(inputs)?),
            None => String::new(),
        };
        Ok(RoleAttrs {
            name: self.name.clone(),
            trust: canonical_json(&(self.trust)(inputs)?),
            managed: self.managed.iter().cloned().collect(),
            inline,
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<RoleAttrs>>, ResourceError> {
        let get = self.iam.get_role().role_name(&self.name).send().await.map_err(aws("GetRole"));
        let Some(out) = absent_if_gone(get)? else { return Ok(None) };
        let role = out.role.ok_or_else(|| ResourceError::fatal("GetRole returned no role"))?;
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws("ListAttachedRolePolicies"))?;
        let managed = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).map(String::from).collect();
        let inline = self
            .iam
            .get_role_policy()
            .role_name(&self.name)
            .policy_name(INLINE)
            .send()
            .await
            .map_err(aws("GetRolePolicy"));
        let inline = absent_if_gone(inline)?.map(|p| canonical_policy(p.policy_document())).unwrap_or_default();
        Ok(Some(Observed::new(role.role_name()).output(Output::Arn, role.arn()).tags(from_sdk(role.tags())).found(
            RoleAttrs {
                name: role.role_name().into(),
                trust: role.assume_role_policy_document().map(canonical_policy).unwrap_or_default(),
                managed,
                inline,
            },
        )))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &RoleAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .iam
            .create_role()
            .role_name(&self.name)
            .assume_role_policy_document(&desired.trust)
            .set_tags(Some(sdk_tags!(aws_sdk_iam::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateRole"))?;
        let arn = out.role.map(|r| r.arn).unwrap_or_default();
        let created = Observed::new(&self.name).output(Output::Arn, arn).tags(cx.tags.clone());
        let bare = created.clone().found(RoleAttrs::default());
        let bare = Owned::created(cx, bare);
        self.update(cx, &bare, desired, &[RoleField::Managed, RoleField::Inline]).await?;
        Ok(created)
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<RoleAttrs>>,
        desired: &RoleAttrs,
        changed: &[RoleField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                RoleField::Trust => {
                    self.iam
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(&desired.trust)
                        .send()
                        .await
                        .map_err(aws("UpdateAssumeRolePolicy"))?;
                }
                RoleField::Managed => {
                    for arn in desired.managed.difference(&o.attrs.managed) {
                        self.iam
                            .attach_role_policy()
                            .role_name(&self.name)
                            .policy_arn(arn)
                            .send()
                            .await
                            .map_err(aws("AttachRolePolicy"))?;
                    }
                    for arn in o.attrs.managed.difference(&desired.managed) {
                        self.detach(arn).await?;
                    }
                }
                RoleField::Inline => match desired.inline.as_str() {
                    "" => self.delete_inline().await?,
                    doc => {
                        self.iam
                            .put_role_policy()
                            .role_name(&self.name)
                            .policy_name(INLINE)
                            .policy_document(doc)
                            .send()
                            .await
                            .map_err(aws("PutRolePolicy"))?;
                    }
                },
                RoleField::Name => return Err(replaced_not_updated("iam-role", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        self.iam
            .tag_role()
            .role_name(&self.name)
            .set_tags(Some(sdk_tags!(aws_sdk_iam::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("TagRole"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<RoleAttrs>>) -> Result<(), ResourceError> {
        // IAM refuses to delete a role that still has policies.
        for arn in &o.attrs.managed {
            gone_is_ok(self.detach(arn).await)?;
        }
        self.delete_inline().await?;
        self.iam.delete_role().role_name(&self.name).send().await.map_err(aws("DeleteRole"))?;
        Ok(())
    }
}

impl Role {
    async fn detach(&self, arn: &str) -> Result<(), ResourceError> {
        self.iam
            .detach_role_policy()
            .role_name(&self.name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(aws("DetachRolePolicy"))?;
        Ok(())
    }

    async fn delete_inline(&self) -> Result<(), ResourceError> {
        gone_is_ok(
            self.iam
                .delete_role_policy()
                .role_name(&self.name)
                .policy_name(INLINE)
                .send()
                .await
                .map_err(aws("DeleteRolePolicy")),
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::operation::get_role::GetRoleError;
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_smithy_mocks::{Rule, mock};
    use aws_smithy_types::error::ErrorMetadata;
    use temporalctl_engine::{Tags, ownership_tags};

    use super::*;

    /// An IAM client answered by `rules` (the SDK's mocking crate): no emulator, no network.
    fn iam(rules: &[&Rule]) -> aws_sdk_iam::Client {
        crate::mocks::mocked!(aws_sdk_iam, rules)
    }

    fn role(iam: aws_sdk_iam::Client, managed: &[&str]) -> Role {
        Role {
            iam,
            name: "demo-x".into(),
            trust: Arc::new(|_: &Inputs| Ok(serde_json::json!({}))),
            managed: managed.iter().map(|m| m.to_string()).collect(),
            reads: vec![],
            inline: None,
        }
    }

    fn cx<'a>(tags: &'a Tags, inputs: &'a Inputs) -> Cx<'a> {
        Cx {
            node: "iam-role/x",
            project: "demo",
            recorded_id: None,
            inputs,
            tags,
            may_read_from_listing: false,
            follow_id: false,
        }
    }

    #[tokio::test]
    async fn a_missing_role_reads_as_none_through_the_one_error_classification() {
        let missing = mock!(aws_sdk_iam::Client::get_role).then_error(|| {
            GetRoleError::NoSuchEntityException(
                NoSuchEntityException::builder()
                    .message("The role with name demo-x cannot be found.")
                    .meta(ErrorMetadata::builder().code("NoSuchEntity").build())
                    .build(),
            )
        });
        let (tags, inputs) = (Tags::new(), Inputs::default());
        let found = Kind::read(&role(iam(&[&missing]), &[]), &cx(&tags, &inputs)).await.unwrap();
        assert!(found.is_none());
        assert_eq!(missing.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_managed_policy_change_attaches_what_is_new_and_detaches_what_is_gone_and_nothing_else() {
        let attach_new = mock!(aws_sdk_iam::Client::attach_role_policy)
            .match_requests(|r| r.role_name() == Some("demo-x") && r.policy_arn() == Some("arn:new"))
            .then_output(|| aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput::builder().build());
        let detach_old = mock!(aws_sdk_iam::Client::detach_role_policy)
            .match_requests(|r| r.role_name() == Some("demo-x") && r.policy_arn() == Some("arn:old"))
            .then_output(|| aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyOutput::builder().build());
        let r = role(iam(&[&attach_new, &detach_old]), &["arn:kept", "arn:new"]);
        let have =
            RoleAttrs { managed: ["arn:kept".to_string(), "arn:old".to_string()].into(), ..RoleAttrs::default() };
        let (tags, inputs) = (ownership_tags("demo", "iam-role/x", "demo-x", &Tags::new()), Inputs::default());
        let found = Observed::new("demo-x").tags(tags.clone()).found(have);
        let found = Owned::verify("demo", "iam-role/x", "demo-x", &tags, found).unwrap();
        let want = Kind::desired(&r, &inputs).unwrap();
        Kind::update(&r, &cx(&tags, &inputs), &found, &want, &[RoleField::Managed]).await.unwrap();
        assert_eq!((attach_new.num_calls(), detach_old.num_calls()), (1, 1));
    }
}
