//! One `SdkConfig` for every client: credentials and endpoint from the standard chain
//! (`AWS_PROFILE`, `AWS_ACCESS_KEY_ID`…, `AWS_ENDPOINT_URL`), region from deploy.yaml,
//! and the SDK's own retry of throttling and 5xx set once here.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;

#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
}

impl Aws {
    /// Clients for `region`, after checking that credentials resolve: a run without them
    /// fails here, once, with what to do, instead of on every call.
    pub async fn connect(region: &str) -> Result<Self, String> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(4).with_initial_backoff(Duration::from_millis(200)))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
            )
            .load()
            .await;
        let provider = config.credentials_provider().ok_or("no AWS credentials provider is configured")?;
        provider.provide_credentials().await.map_err(|e| {
            format!(
                "no usable AWS credentials ({}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )
        })?;
        Ok(Self::from_config(region, &config))
    }

    /// Clients that are never used to call AWS (building the graph for `validate`).
    pub fn offline(region: &str) -> Self {
        let config = aws_config::SdkConfig::builder()
            .region(Region::new(region.to_string()))
            .behavior_version(BehaviorVersion::latest())
            .build();
        Self::from_config(region, &config)
    }

    fn from_config(region: &str, config: &aws_config::SdkConfig) -> Self {
        Self { region: region.to_string(), ec2: aws_sdk_ec2::Client::new(config) }
    }
}
