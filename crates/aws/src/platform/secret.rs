//! A secret whose value temporalctl generates and writes only to Secrets Manager: never to
//! state, logs or stdout, never changed by a later `up`. Grafana's and the TLS authority's
//! are kept by `down` unless `--destroy-data`; the certificates are issued anew.
//!
//! - Grafana's admin `{admin_user, admin_password}`: the password from the OS's CSPRNG.
//! - The TLS authority and the certificates it issues (`platform::tls`).

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes, replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws};
use crate::outputs::Output;
use crate::platform::tls::Authority;
use crate::tags::{from_sdk, sdk_tags};

pub struct Secret {
    pub sm: aws_sdk_secretsmanager::Client,
    pub name: String,
    pub contents: Contents,
}

/// What a secret holds, generated when it is created.
pub enum Contents {
    /// `{admin_user, admin_password}`: Grafana's admin.
    GrafanaAdmin { admin_user: String },
    /// The deployment's certificate authority: read by temporalctl only.
    TlsAuthority { project: String },
    /// The certificates the tasks use, issued by the authority of the node `authority`.
    TlsCertificates { project: String, authority: NodeId },
}

impl Contents {
    fn description(&self) -> &'static str {
        match self {
            Contents::GrafanaAdmin { .. } => "Grafana admin credentials (temporalctl)",
            Contents::TlsAuthority { .. } => "Temporal TLS certificate authority; read by temporalctl only",
            Contents::TlsCertificates { .. } => "Temporal TLS certificates for the tasks (temporalctl)",
        }
    }
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
    pub struct SecretAttrs / SecretField {
        Name name: String = "name", replace;
        /// Deleted by an earlier `down --destroy-data` and still recoverable.
        ScheduledForDeletion scheduled_for_deletion: bool = "scheduled-for-deletion";
    }
}

#[async_trait]
impl Kind for Secret {
    type Attrs = SecretAttrs;

    fn kind(&self) -> &'static str {
        "secret"
    }

    fn references(&self) -> Vec<NodeId> {
        match &self.contents {
            Contents::TlsCertificates { authority, .. } => vec![authority.clone()],
            Contents::GrafanaAdmin { .. } | Contents::TlsAuthority { .. } => Vec::new(),
        }
    }

    fn desired(&self, _: &Inputs) -> Result<SecretAttrs, ResourceError> {
        Ok(SecretAttrs { name: self.name.clone(), scheduled_for_deletion: false })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<SecretAttrs>>, ResourceError> {
        let described = self.sm.describe_secret().secret_id(&self.name).send().await.map_err(aws("DescribeSecret"));
        let Some(s) = absent_if_gone(described)? else { return Ok(None) };
        let created = s.created_date().and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
        Ok(Some(
            Observed::new(s.arn().unwrap_or_default())
                .output(Output::Arn, s.arn().unwrap_or_default())
                .output(Output::Created, created.unwrap_or_default())
                .tags(from_sdk(s.tags()))
                .found(SecretAttrs {
                    name: s.name().unwrap_or_default().into(),
                    scheduled_for_deletion: s.deleted_date().is_some(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &SecretAttrs) -> Result<Observed, ResourceError> {
        let value = self.generate(cx).await?;
        let out = self
            .sm
            .create_secret()
            .name(&self.name)
            .description(self.contents.description())
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
        o: &Owned<Found<SecretAttrs>>,
        _: &SecretAttrs,
        changed: &[SecretField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                // Restored, keeping the password.
                SecretField::ScheduledForDeletion => {
                    self.sm.restore_secret().secret_id(&o.id).send().await.map_err(aws("RestoreSecret"))?;
                }
                SecretField::Name => return Err(replaced_not_updated("secret", field)),
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

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<SecretAttrs>>) -> Result<(), ResourceError> {
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

    /// The password and the authority are data: kept by `down`, never made anew unless
    /// allowed. The certificates are not: the authority issues new ones whenever the
    /// secret is gone, which is how they are renewed (docs/runbook.md, "Mutual TLS").
    fn retention(&self) -> Retention {
        match self.contents {
            Contents::TlsCertificates { .. } => Retention::Delete,
            Contents::GrafanaAdmin { .. } | Contents::TlsAuthority { .. } => Retention::Data,
        }
    }
}

impl Secret {
    /// The value, made now; the TLS certificates read their authority from its secret.
    async fn generate(&self, cx: &Cx<'_>) -> Result<String, ResourceError> {
        let now = time::OffsetDateTime::now_utc();
        match &self.contents {
            Contents::GrafanaAdmin { admin_user } => {
                Ok(serde_json::json!({ "admin_user": admin_user, "admin_password": generate_password()? }).to_string())
            }
            Contents::TlsAuthority { project } => {
                Ok(Authority::generate(project, now).map_err(ResourceError::fatal)?.secret_value())
            }
            Contents::TlsCertificates { project, authority } => {
                let arn = cx.inputs.get(authority, Output::Arn)?;
                let out = self.sm.get_secret_value().secret_id(arn).send().await.map_err(aws("GetSecretValue"))?;
                let authority = Authority::from_secret_value(out.secret_string().unwrap_or_default())
                    .map_err(|e| ResourceError::fatal(format!("{arn}: {e}")))?;
                Ok(authority.issue(project, now).map_err(ResourceError::fatal)?.secret_value())
            }
        }
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
