//! A secret whose value temporalctl generates and writes only to Secrets Manager: never to
//! state, logs or stdout, never changed by a later `up`. Grafana's and the TLS authority's
//! are kept by `down` unless `--destroy-data`; the certificates are issued anew.
//!
//! - Grafana's admin `{admin_user, admin_password}`: the password from the OS's CSPRNG.
//! - The TLS authority and the certificates it issues (`platform::tls`), or the
//!   certificates the user's AWS Private CA issues (`platform::private_ca`).

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes, replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws};
use crate::outputs::Output;
use crate::platform::private_ca::PrivateCa;
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
    /// The certificates the tasks use, from `issuer`.
    TlsCertificates { project: String, issuer: Issuer },
}

/// Who signs the certificates.
pub enum Issuer {
    /// The deployment's own authority, in the secret of this node.
    Own(NodeId),
    /// The user's AWS Private CA.
    PrivateCa(PrivateCa),
}

/// How the `issuer` attribute names the deployment's own authority; a private CA is named
/// by its ARN.
pub const OWN_AUTHORITY: &str = "own authority";

impl Issuer {
    fn name(&self) -> &str {
        match self {
            Issuer::Own(_) => OWN_AUTHORITY,
            Issuer::PrivateCa(ca) => &ca.arn,
        }
    }

    /// Ready to issue: our own authority's secret is found through its node.
    fn ready(&self, cx: &Cx<'_>) -> Result<IssueFrom, ResourceError> {
        Ok(match self {
            Issuer::Own(authority) => IssueFrom::Own(cx.inputs.get(authority, Output::Arn)?.to_string()),
            Issuer::PrivateCa(ca) => IssueFrom::PrivateCa(ca.clone()),
        })
    }
}

/// The certificates' secret says in its description until when they are valid (after
/// `tls rotate` writes a new version, the secret's creation date no longer tells) and,
/// when it is not the deployment's own authority, which CA issued them.
const VALID_UNTIL: &str = "; valid until ";
const FROM: &str = ", from ";

fn certificates_description(issuer: &str, until: &str) -> String {
    match issuer {
        OWN_AUTHORITY => format!("{}{VALID_UNTIL}{until}", Contents::CERTIFICATES),
        ca => format!("{}{FROM}{ca}{VALID_UNTIL}{until}", Contents::CERTIFICATES),
    }
}

/// The issuer a description written by [`certificates_description`] names (ours when it
/// names none, as before the choice existed).
pub fn issuer_in(description: &str) -> &str {
    let head = description.split(VALID_UNTIL).next().unwrap_or_default();
    head.split_once(FROM).map_or(OWN_AUTHORITY, |(_, ca)| ca)
}

/// The end date a description written by [`certificates_description`] names, when it is
/// a real date.
fn valid_until_in(description: &str) -> Option<String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let date = description.split(VALID_UNTIL).nth(1)?.get(..10)?;
    DateTime::from_str(&format!("{date}T00:00:00Z"), Format::DateTime).ok().map(|_| date.to_string())
}

impl Contents {
    const CERTIFICATES: &str = "Temporal TLS certificates for the tasks (temporalctl)";

    fn description(&self) -> &'static str {
        match self {
            Contents::GrafanaAdmin { .. } => "Grafana admin credentials (temporalctl)",
            Contents::TlsAuthority { .. } => "Temporal TLS certificate authority; read by temporalctl only",
            Contents::TlsCertificates { .. } => Contents::CERTIFICATES,
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
        /// Who issued the certificates (empty for other secrets): a change issues new
        /// ones from the new issuer, in place, once the services are stopped
        /// (`up` checks that first).
        Issuer issuer: String = "issuer";
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
            Contents::TlsCertificates { issuer: Issuer::Own(authority), .. } => vec![authority.clone()],
            _ => Vec::new(),
        }
    }

    fn desired(&self, _: &Inputs) -> Result<SecretAttrs, ResourceError> {
        let issuer = match &self.contents {
            Contents::TlsCertificates { issuer, .. } => issuer.name().to_string(),
            _ => String::new(),
        };
        Ok(SecretAttrs { name: self.name.clone(), issuer, scheduled_for_deletion: false })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<SecretAttrs>>, ResourceError> {
        let described = self.sm.describe_secret().secret_id(&self.name).send().await.map_err(aws("DescribeSecret"));
        let Some(s) = absent_if_gone(described)? else { return Ok(None) };
        let created = s.created_date().and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
        let mut observed = Observed::new(s.arn().unwrap_or_default());
        if let Some(until) = s.description().and_then(valid_until_in) {
            observed = observed.output(Output::ValidUntil, until);
        }
        let issuer = match self.contents {
            Contents::TlsCertificates { .. } => issuer_in(s.description().unwrap_or_default()).to_string(),
            _ => String::new(),
        };
        Ok(Some(
            observed
                .output(Output::Arn, s.arn().unwrap_or_default())
                .output(Output::Created, created.unwrap_or_default())
                .tags(from_sdk(s.tags()))
                .found(SecretAttrs {
                    name: s.name().unwrap_or_default().into(),
                    issuer,
                    scheduled_for_deletion: s.deleted_date().is_some(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &SecretAttrs) -> Result<Observed, ResourceError> {
        let (value, until) = self.generate(cx).await?;
        let description = match (&until, &self.contents) {
            (Some(until), Contents::TlsCertificates { issuer, .. }) => certificates_description(issuer.name(), until),
            _ => self.contents.description().to_string(),
        };
        let out = self
            .sm
            .create_secret()
            .name(&self.name)
            .description(description)
            .secret_string(value)
            .set_tags(Some(sdk_tags!(infallible Tag, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateSecret"))?;
        let arn = out.arn().unwrap_or_default();
        let observed = Observed::new(arn).output(Output::Arn, arn).tags(cx.tags.clone());
        Ok(match until {
            Some(until) => observed.output(Output::ValidUntil, until),
            None => observed,
        })
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<SecretAttrs>>,
        _: &SecretAttrs,
        changed: &[SecretField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                // Another issuer: its certificates, as a new version of the same secret
                // (as `tls rotate` writes them).
                SecretField::Issuer => {
                    let Contents::TlsCertificates { project, issuer } = &self.contents else { continue };
                    reissue_certificates(&self.sm, project, &o.id, issuer.ready(cx)?).await?;
                }
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
    /// secret is gone, and `tls rotate` writes new ones into it.
    fn retention(&self) -> Retention {
        match self.contents {
            Contents::TlsCertificates { .. } => Retention::Delete,
            Contents::GrafanaAdmin { .. } | Contents::TlsAuthority { .. } => Retention::Data,
        }
    }
}

impl Secret {
    /// The value, made now, and for the certificates their end date; the certificates
    /// read their authority from its secret.
    async fn generate(&self, cx: &Cx<'_>) -> Result<(String, Option<String>), ResourceError> {
        let now = time::OffsetDateTime::now_utc();
        match &self.contents {
            Contents::GrafanaAdmin { admin_user } => Ok((
                serde_json::json!({ "admin_user": admin_user, "admin_password": generate_password()? }).to_string(),
                None,
            )),
            Contents::TlsAuthority { project } => {
                Ok((Authority::generate(project, now).map_err(ResourceError::fatal)?.secret_value(), None))
            }
            Contents::TlsCertificates { project, issuer } => {
                let (value, until) = issue(&self.sm, project, issuer.ready(cx)?).await?;
                Ok((value, Some(until)))
            }
        }
    }
}

/// Where new certificates come from: the deployment's authority, in the secret of this
/// ARN (shown ours), or the user's private CA.
#[derive(Clone)]
pub enum IssueFrom {
    Own(String),
    PrivateCa(PrivateCa),
}

impl IssueFrom {
    fn name(&self) -> &str {
        match self {
            IssueFrom::Own(_) => OWN_AUTHORITY,
            IssueFrom::PrivateCa(ca) => &ca.arn,
        }
    }
}

/// New certificates: the secret value and their end date (YYYY-MM-DD).
async fn issue(
    sm: &aws_sdk_secretsmanager::Client,
    project: &str,
    from: IssueFrom,
) -> Result<(String, String), ResourceError> {
    let certificates = match from {
        IssueFrom::Own(authority_arn) => issue_own(sm, project, &authority_arn).await?,
        IssueFrom::PrivateCa(ca) => ca.issue(project).await?,
    };
    let until = certificates.not_after.get(..10).unwrap_or_default().to_string();
    Ok((certificates.secret_value(), until))
}

/// Certificates from the authority in the secret `authority_arn`.
async fn issue_own(
    sm: &aws_sdk_secretsmanager::Client,
    project: &str,
    authority_arn: &str,
) -> Result<crate::platform::tls::Certificates, ResourceError> {
    let out = sm.get_secret_value().secret_id(authority_arn).send().await.map_err(aws("GetSecretValue"))?;
    let authority = Authority::from_secret_value(out.secret_string().unwrap_or_default())
        .map_err(|e| ResourceError::fatal(format!("{authority_arn}: {e}")))?;
    // The authority's secret is written once, right after the authority is made: its
    // version's date, a day early for safety, bounds the authority's life.
    let authority_until = out
        .created_date()
        .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.secs()).ok())
        .map(|made| made + time::Duration::days(365 * crate::platform::tls::AUTHORITY_YEARS - 1));
    authority
        .issue(project, time::OffsetDateTime::now_utc(), authority_until)
        .map_err(|e| ResourceError::fatal(format!("{authority_arn}: {e}")))
}

/// `tls rotate` (and a change of issuer): new certificates, written as a new version of
/// the certificates' secret (`UpdateSecret` with the value and the description that
/// names the issuer and the new end date, in one call). The ARN stays, so no task
/// definition changes: new tasks read the new version. The secret (and our own
/// authority's) were shown ours by their tags. Returns the new end date.
pub async fn reissue_certificates(
    sm: &aws_sdk_secretsmanager::Client,
    project: &str,
    secret: &str,
    from: IssueFrom,
) -> Result<String, ResourceError> {
    let issuer = from.name().to_string();
    let (value, until) = issue(sm, project, from).await?;
    sm.update_secret()
        .secret_id(secret)
        .secret_string(value)
        .description(certificates_description(&issuer, &until))
        .send()
        .await
        .map_err(aws("UpdateSecret"))?;
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end date survives the round trip through the description, and a description
    /// of someone else's (or of an older temporalctl) names none.
    #[test]
    fn the_certificates_end_date_is_read_back_from_the_description() {
        assert_eq!(
            valid_until_in(&certificates_description(OWN_AUTHORITY, "2031-12-07")).as_deref(),
            Some("2031-12-07")
        );
        let ca = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0f3c";
        let from_ca = certificates_description(ca, "2030-01-02");
        assert_eq!((issuer_in(&from_ca), valid_until_in(&from_ca).as_deref()), (ca, Some("2030-01-02")));
        // Written by our own authority, before and after `tls rotate` existed.
        assert_eq!(issuer_in(&certificates_description(OWN_AUTHORITY, "2031-12-07")), OWN_AUTHORITY);
        assert_eq!(issuer_in(Contents::CERTIFICATES), OWN_AUTHORITY);
        assert_eq!(valid_until_in(Contents::CERTIFICATES), None);
        assert_eq!(valid_until_in("x; valid until soon, honestly"), None);
        assert_eq!(valid_until_in("x; valid until 2031-13-45"), None);
    }

    #[test]
    fn passwords_are_long_varied_and_unambiguous() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
