//! The state bucket's policy (`state init`): every request that does not come over TLS
//! is refused, for the bucket and its objects (AWS, S3 User Guide, "Security best
//! practices for Amazon S3": enforce encryption of data in transit with
//! `aws:SecureTransport`).

use serde_json::{Value, json};

pub fn policy(partition: &str, bucket: &str) -> Value {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_of_the_state_bucket_policy() {
        insta::assert_json_snapshot!("state-bucket-policy", policy("aws", "acme-temporal-state"));
    }

    /// Issue 21: the policy only ever denies, and denies exactly plain HTTP.
    #[test]
    fn it_denies_plain_http_and_grants_nothing() {
        let p = policy("aws", "b-1");
        for s in p["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Deny");
            assert_eq!(s["Condition"]["Bool"]["aws:SecureTransport"], "false");
        }
    }
}
