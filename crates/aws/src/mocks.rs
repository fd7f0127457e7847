//! Unit tests' SDK clients: every call answered by aws-smithy-mocks rules, nothing sent.

/// A client of the SDK crate `$sdk` whose calls only the given rules answer
/// (`RuleMode::MatchAny`): `mocked!(aws_sdk_iam, &[&rule])`.
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {{
        let mut mocks =
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        for rule in $rules {
            mocks = mocks.with_rule(rule);
        }
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(mocks)
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use mocked;
