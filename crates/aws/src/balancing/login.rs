//! The ingress's login (`ingress.login`): the user's Secrets Manager secret holding the
//! OpenID Connect client secret, looked up (`DescribeSecret`: its ARN and the version
//! labelled `AWSCURRENT`, never its value) and never changed (`Retention::Borrowed`).
//! The rules read the value (`GetSecretValue`) only when they write it to ELBv2, and keep
//! only the version id, as a tag of their own: the secret reaches neither the state file
//! nor the output, and a new version of it (a rotation) is a change `plan` shows.

use async_trait::async_trait;
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes};

use crate::errors::{absent_if_gone, aws};
use crate::network::existing::never_changed;
use crate::outputs::Output;

pub type SecretsManager = aws_sdk_secretsmanager::Client;

const FIELD: &str = "ingress.login.client_secret_id";

pub struct LoginSecret {
    pub sm: SecretsManager,
    /// Its name or ARN, as deploy.yaml gives it.
    pub secret_id: String,
}

attributes! {
    pub struct LoginSecretAttrs / LoginSecretField {
        SecretId secret_id: String = "secret-id";
    }
}

#[async_trait]
impl Kind for LoginSecret {
    type Attrs = LoginSecretAttrs;

    fn kind(&self) -> &'static str {
        "login-secret"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<LoginSecretAttrs, ResourceError> {
        Ok(LoginSecretAttrs { secret_id: self.secret_id.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<LoginSecretAttrs>>, ResourceError> {
        let described =
            self.sm.describe_secret().secret_id(&self.secret_id).send().await.map_err(aws("DescribeSecret"));
        let Some(secret) = absent_if_gone(described)? else { return Ok(None) };
        let arn = secret.arn().unwrap_or_default();
        let current = secret
            .version_ids_to_stages()
            .and_then(|versions| {
                versions.iter().find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT")).map(|(id, _)| id.clone())
            })
            .ok_or_else(|| {
                ResourceError::fatal(format!(
                    "{FIELD}: secret {arn} has no current version (AWSCURRENT); put the client secret in it (`aws secretsmanager put-secret-value`)"
                ))
            })?;
        Ok(Some(
            Observed::new(arn)
                .output(Output::Arn, arn)
                .output(Output::Version, &current)
                .tags(cx.tags.clone())
                .found(LoginSecretAttrs { secret_id: self.secret_id.clone() }),
        ))
    }

    async fn create(&self, _: &Cx<'_>, _: &LoginSecretAttrs) -> Result<Observed, ResourceError> {
        Err(ResourceError::fatal(format!(
            "{FIELD}: secret {} does not exist in this account and region, or this identity may not describe it; create it (`aws secretsmanager create-secret --name {} --secret-string <client secret>`) or check the name",
            self.secret_id, self.secret_id
        )))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<LoginSecretAttrs>>,
        _: &LoginSecretAttrs,
        _: &[LoginSecretField],
    ) -> Result<(), ResourceError> {
        Err(never_changed("secret", &self.secret_id))
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<LoginSecretAttrs>>) -> Result<(), ResourceError> {
        Err(never_changed("secret", &self.secret_id))
    }

    fn retention(&self) -> Retention {
        Retention::Borrowed
    }
}

/// The client secret at `version` of `secret` (its ARN): the whole string, or the value at
/// `key` when the secret is a JSON object. Errors name the secret and key, never a value.
pub(crate) async fn client_secret(
    sm: &SecretsManager,
    secret: &str,
    version: &str,
    key: Option<&str>,
) -> Result<String, ResourceError> {
    let out =
        sm.get_secret_value().secret_id(secret).version_id(version).send().await.map_err(aws("GetSecretValue"))?;
    let text = out.secret_string().ok_or_else(|| {
        ResourceError::fatal(format!("{FIELD}: secret {secret} holds binary data; store the client secret as text"))
    })?;
    pick(text, key).map_err(|why| ResourceError::fatal(format!("{FIELD}: secret {secret}: {why}")))
}

/// The client secret in a secret's text; the reasons it is not there never quote the text.
fn pick(text: &str, key: Option<&str>) -> Result<String, String> {
    let value = match key {
        None => text.trim().to_string(),
        Some(key) => {
            let json: serde_json::Value = serde_json::from_str(text).map_err(|_| {
                "is not a JSON object, so ingress.login.client_secret_key does not apply; remove the key or store JSON"
                    .to_string()
            })?;
            match json.get(key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(_) => return Err(format!("the value at `{key}` is not a string")),
                None => return Err(format!("has no key `{key}` (ingress.login.client_secret_key)")),
            }
        }
    };
    if value.is_empty() { Err("the client secret is empty".into()) } else { Ok(value) }
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn the_client_secret_is_the_whole_text_or_a_json_key_and_errors_never_quote_it() {
        assert_eq!(pick(" s3cr3t\n", None).unwrap(), "s3cr3t");
        assert_eq!(pick(r#"{"client_secret":"s3cr3t","other":1}"#, Some("client_secret")).unwrap(), "s3cr3t");
        for (text, key) in [(r#"{"other":"s3cr3t"}"#, "client_secret"), ("s3cr3t", "client_secret")] {
            let why = pick(text, Some(key)).unwrap_err();
            assert!(!why.contains("s3cr3t"), "{why}");
        }
        assert!(pick(r#"{"client_secret":7}"#, Some("client_secret")).is_err());
        assert!(pick("  ", None).is_err());
    }
}
