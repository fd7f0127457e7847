//! An IAM role: trust policy, AWS managed policies, and our one inline policy.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError};

use super::canonical_policy;
use crate::errors::{aws, gone_is_ok};
use crate::network::ec2::{attr, members, set, set_delta};

/// Name of the inline policy temporalctl manages on each role.
pub const INLINE: &str = "temporalctl";

/// Renders the inline policy from the dependencies' outputs (ARNs).
pub type PolicyFn = Arc<dyn Fn(&Inputs) -> Result<Value, ResourceError> + Send + Sync>;

pub struct Role {
    pub iam: aws_sdk_iam::Client,
    pub name: String,
    pub trust: Value,
    /// Managed policy ARNs to attach.
    pub managed: Vec<String>,
    pub inline: Option<PolicyFn>,
}

#[async_trait]
impl Resource for Role {
    fn kind(&self) -> &'static str {
        "iam-role"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let inline = match &self.inline {
            Some(f) => f(inputs)?.to_string(),
            None => String::new(),
        };
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("trust".into(), self.trust.to_string()),
            ("managed".into(), set(self.managed.iter().map(String::as_str))),
            ("inline".into(), inline),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let role = match self.iam.get_role().role_name(&self.name).send().await.map_err(aws("GetRole")) {
            Ok(out) => out.role.ok_or_else(|| ResourceError::fatal("GetRole returned no role"))?,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws("ListAttachedRolePolicies"))?;
        let managed = set(attached.attached_policies().iter().filter_map(|p| p.policy_arn()));
        let inline = match self
            .iam
            .get_role_policy()
            .role_name(&self.name)
            .policy_name(INLINE)
            .send()
            .await
            .map_err(aws("GetRolePolicy"))
        {
            Ok(p) => canonical_policy(p.policy_document()),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e),
        };
        let tags = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok(Some(
            Observed::new(role.role_name())
                .attr("name", role.role_name())
                .attr("trust", role.assume_role_policy_document().map(canonical_policy).unwrap_or_default())
                .attr("managed", managed)
                .attr("inline", inline)
                .output("arn", role.arn())
                .tags(tags),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let tags = super::tags(cx.tags)?;
        let out = self
            .iam
            .create_role()
            .role_name(&self.name)
            .assume_role_policy_document(attr(desired, "trust")?)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws("CreateRole"))?;
        let arn = out.role.map(|r| r.arn).unwrap_or_default();
        let created =
            Observed::new(&self.name).attr("managed", "").attr("inline", "").output("arn", arn).tags(cx.tags.clone());
        self.update(cx, &created, desired, &["managed".into(), "inline".into()]).await?;
        Ok(created)
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
                "trust" => {
                    self.iam
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(attr(desired, field)?)
                        .send()
                        .await
                        .map_err(aws("UpdateAssumeRolePolicy"))?;
                }
                "managed" => {
                    let (add, remove) = set_delta(o.attrs.get(field), attr(desired, field)?);
                    for arn in add {
                        self.iam
                            .attach_role_policy()
                            .role_name(&self.name)
                            .policy_arn(arn)
                            .send()
                            .await
                            .map_err(aws("AttachRolePolicy"))?;
                    }
                    for arn in remove {
                        self.iam
                            .detach_role_policy()
                            .role_name(&self.name)
                            .policy_arn(arn)
                            .send()
                            .await
                            .map_err(aws("DetachRolePolicy"))?;
                    }
                }
                "inline" => match attr(desired, field)? {
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
                "tags" => {
                    let tags = super::tags(cx.tags)?;
                    self.iam
                        .tag_role()
                        .role_name(&self.name)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(aws("TagRole"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        // IAM refuses to delete a role that still has policies.
        for arn in members(o.attrs.get("managed").map(String::as_str).unwrap_or_default()) {
            gone_is_ok(
                self.iam
                    .detach_role_policy()
                    .role_name(&self.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(aws("DetachRolePolicy")),
            )?;
        }
        self.delete_inline().await?;
        self.iam.delete_role().role_name(&self.name).send().await.map_err(aws("DeleteRole"))?;
        Ok(())
    }
}

impl Role {
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
