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
    pub ec2: crate::network::ec2::Ec2,
    pub iam: aws_sdk_iam::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub cloudmap: aws_sdk_servicediscovery::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub dsql: aws_sdk_dsql::Client,
    pub opensearch: aws_sdk_opensearch::Client,
    pub amp: aws_sdk_amp::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub acm: aws_sdk_acm::Client,
    /// Route 53 is global; the SDK signs for us-east-1 whatever the region.
    pub route53: aws_sdk_route53::Client,
    /// This run's listings, shared by every resource that reads through one.
    pub listings: crate::listings::Listings,
    /// What the clients were made from, for a client in another region.
    config: aws_config::SdkConfig,
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
        let listings = crate::listings::Listings::default();
        Self {
            region: region.to_string(),
            ec2: crate::network::ec2::Ec2 { client: aws_sdk_ec2::Client::new(config), listings: listings.clone() },
            iam: aws_sdk_iam::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            cloudmap: aws_sdk_servicediscovery::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            dsql: aws_sdk_dsql::Client::new(config),
            opensearch: aws_sdk_opensearch::Client::new(config),
            amp: aws_sdk_amp::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            acm: aws_sdk_acm::Client::new(config),
            route53: aws_sdk_route53::Client::new(config),
            listings,
            config: config.clone(),
        }
    }

    /// The user's AWS Private CA, called in its own region (one CA often serves many
    /// regions' deployments).
    pub fn private_ca(&self, arn: &str) -> crate::platform::private_ca::PrivateCa {
        let region = crate::platform::private_ca::region_of(arn).unwrap_or(&self.region).to_string();
        let config = aws_sdk_acmpca::config::Builder::from(&self.config).region(Region::new(region)).build();
        crate::platform::private_ca::PrivateCa { pca: aws_sdk_acmpca::Client::from_conf(config), arn: arn.to_string() }
    }

    /// What every client is made from (the S3 state backend makes its own from it).
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.config
    }

    /// `aws`, `aws-cn` or `aws-us-gov`, for the ARNs we write ourselves.
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }
}

pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
