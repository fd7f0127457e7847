//! The Grafana admin secret `{admin_user, admin_password}`. The password is generated here
//! with the OS's CSPRNG and written only to Secrets Manager: never to state, logs or
//! stdout, never rotated by a later `up`. Kept by `down` unless `--destroy-data`.

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes, replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

pub struct GrafanaSecret {
    pub sm: aws_sdk_secretsmanager::Client,
    pub name: String,
    pub admin_user: String,
}

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A 32-character password from the OS CSPRNG (rejection sampling: no modulo bias).
pub fn generate_password() -> Result<String, ResourceError> {
    let mut out = String::with_capacity(32);
    let limit = 256 - (256 % ALPHABET.len());
    while out.len() < 32 {
        let mut buf = [0u8; 64];
        getrandom::fill(&mut buf).map_err(|e| ResourceError::fatal(format!("no secure randomness: {e}")))?;
        out.extend(
            buf.iter().filter(|b| usize::from(**b) < limit).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char),
        );
    }
    out.truncate(32);
    Ok(out)
}

attributes! {
    pub struct GrafanaSecretAttrs / GrafanaSecretField {
        Name name: String = "name", replace;
        /// Deleted by an earlier `down --destroy-data` and still recoverable.
        ScheduledForDeletion scheduled_for_deletion: bool = "scheduled-for-deletion";
    }
}

#[async_trait]
impl Kind for GrafanaSecret {
    type Attrs = GrafanaSecretAttrs;

    fn kind(&self) -> &'static str {
        "secret"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<GrafanaSecretAttrs, ResourceError> {
        Ok(GrafanaSecretAttrs { name: self.name.clone(), scheduled_for_deletion: false })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<GrafanaSecretAttrs>>, ResourceError> {
        let described = self.sm.describe_secret().secret_id(&self.name).send().await.map_err(aws("DescribeSecret"));
        let Some(s) = absent_if_gone(described)? else { return Ok(None) };
        Ok(Some(
            Observed::new(s.arn().unwrap_or_default())
                .output(Output::Arn, s.arn().unwrap_or_default())
                .tags(from_sdk(s.tags()))
                .found(GrafanaSecretAttrs {
                    name: s.name().unwrap_or_default().into(),
                    scheduled_for_deletion: s.deleted_date().is_some(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &GrafanaSecretAttrs) -> Result<Observed, ResourceError> {
        let value =
            serde_json::json!({ "admin_user": self.admin_user, "admin_password": generate_password()? }).to_string();
        let out = self
            .sm
            .create_secret()
            .name(&self.name)
            .description("Grafana admin credentials (temporalctl)")
            .secret_string(value)
            .set_tags(Some(sdk_tags!(infallible Tag, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateSecret"))?;
        let arn = out.arn().unwrap_or_default();
        Ok(Observed::new(arn).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<GrafanaSecretAttrs>>,
        _: &GrafanaSecretAttrs,
        changed: &[GrafanaSecretField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                // Restored, keeping the password.
                GrafanaSecretField::ScheduledForDeletion => {
                    self.sm.restore_secret().secret_id(&o.id).send().await.map_err(aws("RestoreSecret"))?;
                }
                GrafanaSecretField::Name => return Err(replaced_not_updated("secret", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        self.sm
            .tag_resource()
            .secret_id(&o.id)
            .set_tags(Some(sdk_tags!(infallible Tag, cx.tags)))
            .send()
            .await
            .map_err(aws("TagResource"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<GrafanaSecretAttrs>>) -> Result<(), ResourceError> {
        // Only `down --destroy-data` comes here: the user asked for the data to go.
        self.sm
            .delete_secret()
            .secret_id(&o.id)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(aws("DeleteSecret"))?;
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_varied_and_unambiguous() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
