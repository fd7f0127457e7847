//! A CloudWatch Logs resource policy: lets an AWS service write to our log groups. The
//! OpenSearch domain needs one before it may publish its logs: CreateDomain and
//! UpdateDomainConfig check it and refuse log publishing without it ("Monitoring
//! OpenSearch logs with Amazon CloudWatch Logs", OpenSearch Service Developer Guide).
//!
//! A resource policy takes no tags, so ownership is written into the document: a
//! statement with our `Sid` under the project's policy name. A policy of that name
//! without it is someone else's, never changed or deleted. An account holds at most 10
//! such policies per region, and AWS does not raise that quota (PutResourcePolicy, API
//! reference).

use async_trait::async_trait;
use serde_json::{Value, json};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, Tags, attributes, replaced_not_updated,
};

use crate::errors::aws;
use crate::iam::canonical_policy;
use crate::outputs::Output;

/// The statement id that marks a policy as temporalctl's.
pub const OWNED_SID: &str = "TemporalctlOpenSearchLogs";

/// OpenSearch may create streams in and write to `groups` (ARNs without `:*`), for the
/// domain `domain_arn` of `account` only (the confused-deputy condition AWS recommends).
pub fn opensearch_logs_policy(groups: &[String], account: &str, domain_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": OWNED_SID,
            "Effect": "Allow",
            "Principal": { "Service": "es.amazonaws.com" },
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
            "Resource": groups.iter().map(|g| format!("{g}:*")).collect::<Vec<_>>(),
            "Condition": {
                "StringEquals": { "aws:SourceAccount": account },
                "ArnLike": { "aws:SourceArn": domain_arn }
            }
        }]
    })
}

/// The most CloudWatch Logs takes for one policy document.
pub const MAX_DOCUMENT_CHARS: usize = 5120;

pub struct LogResourcePolicy {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub name: String,
    /// The log groups it opens, by node.
    pub groups: Vec<NodeId>,
    /// The domain allowed to write (by name: its ARN is known before it exists).
    pub domain_name: String,
}

attributes! {
    pub struct PolicyAttrs / PolicyField {
        Name name: String = "name", replace;
        /// The document as canonical JSON.
        Document document: String = "document";
    }
}

#[async_trait]
impl Kind for LogResourcePolicy {
    type Attrs = PolicyAttrs;

    fn kind(&self) -> &'static str {
        "log-resource-policy"
    }

    fn references(&self) -> Vec<NodeId> {
        self.groups.clone()
    }

    fn desired(&self, inputs: &Inputs) -> Result<PolicyAttrs, ResourceError> {
        let groups: Vec<String> = inputs.each(&self.groups, Output::Arn)?;
        // arn:<partition>:logs:<region>:<account>:log-group:<name>, the domain's alike.
        let part = |i: usize| groups.first().and_then(|a| a.split(':').nth(i)).unwrap_or_default();
        let domain = crate::data::opensearch::domain_arn(part(1), part(3), part(4), &self.domain_name);
        let document = opensearch_logs_policy(&groups, part(4), &domain).to_string();
        Ok(PolicyAttrs { name: self.name.clone(), document: canonical_policy(&document) })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<PolicyAttrs>>, ResourceError> {
        let mut token = None;
        loop {
            let page = self
                .logs
                .describe_resource_policies()
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("DescribeResourcePolicies"))?;
            if let Some(p) = page.resource_policies().iter().find(|p| p.policy_name() == Some(self.name.as_str())) {
                let document = canonical_policy(p.policy_document().unwrap_or_default());
                let ours = document.contains(&format!("\"Sid\":\"{OWNED_SID}\""));
                // Ours: it stands with this node's tags; someone else's carries none and
                // fails the ownership check before any change.
                let tags = if ours { cx.tags.clone() } else { Tags::new() };
                return Ok(Some(
                    Observed::new(&self.name).tags(tags).found(PolicyAttrs { name: self.name.clone(), document }),
                ));
            }
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    async fn create(&self, cx: &Cx<'_>, desired: &PolicyAttrs) -> Result<Observed, ResourceError> {
        self.put(desired).await?;
        Ok(Observed::new(&self.name).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<PolicyAttrs>>,
        desired: &PolicyAttrs,
        changed: &[PolicyField],
    ) -> Result<(), ResourceError> {
        match changed.iter().find(|f| **f == PolicyField::Name) {
            Some(f) => Err(replaced_not_updated("log-resource-policy", f)),
            None => self.put(desired).await,
        }
    }

    /// Its tags are its `Sid`, written with the document.
    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<PolicyAttrs>>) -> Result<(), ResourceError> {
        self.logs.delete_resource_policy().policy_name(&self.name).send().await.map_err(aws("DeleteResourcePolicy"))?;
        Ok(())
    }

    /// The domain's logs are kept with it, and so is what lets it write them.
    fn retention(&self) -> Retention {
        Retention::Data
    }
}

impl LogResourcePolicy {
    /// PutResourcePolicy creates or overwrites the policy of that name.
    async fn put(&self, desired: &PolicyAttrs) -> Result<(), ResourceError> {
        self.logs
            .put_resource_policy()
            .policy_name(&self.name)
            .policy_document(&desired.document)
            .send()
            .await
            .map_err(aws("PutResourcePolicy"))
            // The general quota hint would say to raise it; this quota cannot be raised.
            .map_err(|e| match e.code.as_deref() {
                Some("LimitExceededException") => ResourceError {
                    message: "PutResourcePolicy: the account already has the 10 CloudWatch Logs resource policies a region allows, a quota AWS does not raise: delete one you no longer use, or set opensearch.publish_logs: false".into(),
                    ..e
                },
                _ => e,
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(project: &str) -> Vec<String> {
        ["application-logs", "search-slow-logs", "index-slow-logs"]
            .iter()
            .map(|k| format!("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/OpenSearchService/domains/{project}-visibility/{k}"))
            .collect()
    }

    #[test]
    fn opensearch_logs_policy_snapshot() {
        let domain = crate::data::opensearch::domain_arn("aws", "eu-west-1", "123456789012", "demo-visibility");
        insta::assert_json_snapshot!(
            "opensearch-logs-policy",
            temporalctl_config::json::sort_keys(opensearch_logs_policy(&groups("demo"), "123456789012", &domain))
        );
    }

    /// CloudWatch Logs refuses a document over 5,120 characters (AWS::Logs::ResourcePolicy,
    /// CloudFormation reference; the API model says 51,200, so the proxy's check would
    /// not catch it): the longest project name still fits.
    #[test]
    fn the_policy_fits_the_size_limit_for_the_longest_project_name() {
        let project = "a".repeat(17);
        let name = format!("{project}-visibility");
        let domain = crate::data::opensearch::domain_arn("aws-us-gov", "us-gov-west-1", "123456789012", &name);
        let text = canonical_policy(&opensearch_logs_policy(&groups(&project), "123456789012", &domain).to_string());
        assert!(text.len() < MAX_DOCUMENT_CHARS, "{} characters", text.len());
    }
}
