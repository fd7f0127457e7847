//! The Grafana admin secret `{admin_user, admin_password}`. The password is generated here
//! with the OS's CSPRNG and written only to Secrets Manager: never to state, logs or
//! stdout, never rotated by a later `up`. Kept by `down` unless `--destroy-data`.

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError, Retention};

use crate::errors::aws;

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

fn tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

#[async_trait]
impl Resource for GrafanaSecret {
    fn kind(&self) -> &'static str {
        "secret"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([("name".into(), self.name.clone()), ("scheduled-for-deletion".into(), "false".into())]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let s = match self.sm.describe_secret().secret_id(&self.name).send().await.map_err(aws("DescribeSecret")) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let tags = s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .collect();
        Ok(Some(
            Observed::new(s.arn().unwrap_or_default())
                .attr("name", s.name().unwrap_or_default())
                .attr("scheduled-for-deletion", s.deleted_date().is_some().to_string())
                .output("arn", s.arn().unwrap_or_default())
                .tags(tags),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
        let value =
            serde_json::json!({ "admin_user": self.admin_user, "admin_password": generate_password()? }).to_string();
        let tags = tags(cx);
        let out = self
            .sm
            .create_secret()
            .name(&self.name)
            .description("Grafana admin credentials (temporalctl)")
            .secret_string(value)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws("CreateSecret"))?;
        let arn = out.arn().unwrap_or_default();
        Ok(Observed::new(arn).output("arn", arn).tags(cx.tags.clone()))
    }

    async fn update(&self, cx: &Cx<'_>, o: &Observed, _: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                // Deleted by an earlier `down --destroy-data` and still recoverable: restore
                // it, keeping the password.
                "scheduled-for-deletion" => {
                    self.sm.restore_secret().secret_id(&o.id).send().await.map_err(aws("RestoreSecret"))?;
                }
                "tags" => {
                    let tags = tags(cx);
                    self.sm
                        .tag_resource()
                        .secret_id(&o.id)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(aws("TagResource"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
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
