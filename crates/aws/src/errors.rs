//! The one place AWS errors are classified. Every SDK call's error goes through
//! [`classify`]; resources never match on error codes themselves.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use temporalctl_engine::{ErrorClass, ResourceError, RetryReason};

/// Codes AWS uses for "slow down" across EC2 (query), JSON and REST services.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// An account quota or a service limit reached: no wait will clear it, so the run stops
/// at once and says so (`LimitExceededException` is a quota, not throttling, in IAM,
/// OpenSearch, ECS and Cloud Map).
const QUOTA: &[&str] = &[
    "LimitExceededException",
    "LimitExceeded",
    "LimitExceededFault",
    "ServiceQuotaExceededException",
    "QuotaExceededException",
    "ResourceLimitExceeded",
    "ResourceLimitExceededException",
    "TagLimitExceeded",
    "TooManyTagsException",
    "VpcLimitExceeded",
    "SubnetLimitExceeded",
    "AddressLimitExceeded",
    "InternetGatewayLimitExceeded",
    "NatGatewayLimitExceeded",
    "RouteTableLimitExceeded",
    "RouteLimitExceeded",
    "SecurityGroupLimitExceeded",
    "RulesPerSecurityGroupLimitExceeded",
    "VpcEndpointLimitExceeded",
    "NetworkInterfaceLimitExceeded",
    "InstanceLimitExceeded",
    "VcpuLimitExceeded",
];

/// What to do about a quota error, added to its message.
const QUOTA_HINT: &str = "this is an account quota or service limit, not a passing condition: free some of it, or raise the quota in the Service Quotas console (or `aws service-quotas request-service-quota-increase`), then run again";

const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "IDPCommunicationError",
    // ECS: another change to the same cluster or provider is still being applied.
    "UpdateInProgressException",
    // S3: two conditional writes to one key raced; AWS says to retry (S3 User Guide,
    // "How to prevent object overwrites with conditional writes").
    "ConditionalRequestConflict",
];

/// Something still uses the resource; deletes retry these until their deadline.
const IN_USE: &[&str] = &[
    "DependencyViolation",
    "InvalidIPAddress.InUse",
    "ResourceInUse",
    "ResourceInUseException",
    "ResourceInUseFault",
    "ScalingActivityInProgressFault",
    "DeleteConflict",
    // A cluster whose services drain, or whose instances still deregister.
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "ClusterContainsContainerInstancesException",
];

/// How services reject a role, instance profile or service-linked role created seconds
/// ago (IAM is eventually consistent): (code, words in the message, lower case).
const PROPAGATION: &[(&str, &str)] = &[
    // Auto Scaling checks the launch template's instance profile.
    ("ValidationError", "invalid iam instance profile"),
    ("InvalidParameterValue", "invalid iam instance profile"),
    // ECS cannot assume a task or execution role yet.
    ("ClientException", "unable to assume"),
    ("InvalidParameterException", "unable to assume"),
    // OpenSearch: the access policy's principals, or the VPC service-linked role.
    ("ValidationException", "invalid principal"),
    // ... or a role too new to have its unique id everywhere (cloudposse/terraform-aws-elasticsearch#57:
    // "InvalidTypeException: Error setting policy"). A policy that is wrong for good gets the
    // same answer and fails only at the propagation deadline; ours is a snapshot-tested
    // document, so a lasting refusal is a bug, not input to report at once.
    ("InvalidTypeException", "policy"),
    ("ValidationException", "service-linked role"),
    // OpenSearch checking a CloudWatch Logs resource policy put moments ago ("... does not
    // grant sufficient permissions for Amazon OpenSearch Service to create a log stream";
    // the domain is made after the policy, awsdocs/amazon-opensearch-service-developer-guide#62).
    ("ValidationException", "resource access policy specified for the cloudwatch logs"),
    // ECS on a new account, before its service-linked role exists or is usable.
    ("InvalidParameterException", "service linked role"),
    ("ClientException", "service linked role"),
    // IAM itself: a role not yet usable in another role's or profile's policy.
    ("MalformedPolicyDocument", "invalid principal"),
    // ECS checking a service's subnets and groups made moments ago (EC2's eventual
    // consistency, seen through ECS's own error).
    ("InvalidParameterException", "invalidgroup.notfound"),
    ("InvalidParameterException", "invalidsubnetid.notfound"),
    // ECS checking a target group whose listener ELBv2 made moments ago (its eventual
    // consistency, hashicorp/terraform-provider-aws#15214 for the balancer itself).
    ("InvalidParameterException", "does not have an associated load balancer"),
];

const CONFLICT: &[&str] = &[
    "EntityAlreadyExists",
    "ResourceExistsException",
    "ResourceAlreadyExistsException",
    "ConflictException",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "RouteAlreadyExists",
    "Resource.AlreadyAssociated",
    "IncorrectState",
    // S3: an `If-Match` or `If-None-Match` write found the object changed, or present.
    "PreconditionFailed",
];

/// What EC2 answers for an id a create returned moments ago, while the id propagates
/// (AWS, EC2 API reference, "Eventual consistency in the Amazon EC2 API"). Only the calls a
/// create makes on its own new id read these as "not visible yet" ([`on_new_id`]);
/// everywhere else they keep their meaning.
const NEW_ID_NOT_VISIBLE: &[&str] = &[
    "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "NatGatewayNotFound",
    "InvalidVpcEndpointId.NotFound",
    "InvalidAllocationID.NotFound",
];

/// Whether an error is EC2 not yet knowing an id it just issued.
pub fn not_visible_yet(e: &ResourceError) -> bool {
    e.is_not_found() && e.code.as_deref().is_some_and(|c| NEW_ID_NOT_VISIBLE.contains(&c))
}

/// How long the calls on a new id wait for it to become visible.
pub const NEW_ID_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// The calls a create makes on the id it was just given (rules on a new group, routes in
/// a new table): "not found" is propagation there, retried with jittered backoff up to
/// [`NEW_ID_DEADLINE`]; any other error returns at once.
pub async fn on_new_id<T, F, Fut>(op: F) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ResourceError>>,
{
    retry_while(op, not_visible_yet, NEW_ID_DEADLINE).await
}

/// AWS Private CA's answer to `GetCertificate` while it is still signing (the API
/// reference: "the certificate is not yet available", asynchronous issuance).
pub fn still_issuing(e: &ResourceError) -> bool {
    e.code.as_deref() == Some("RequestInProgressException")
}

/// How long a certificate request may stay in progress; issuance takes seconds.
pub const ISSUE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// `op` again, with jittered backoff, while `pending` says its error is a passing state,
/// up to `deadline`; any other error returns at once.
pub async fn retry_while<T, F, Fut>(
    op: F,
    pending: fn(&ResourceError) -> bool,
    deadline: std::time::Duration,
) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ResourceError>>,
{
    use backon::{ExponentialBuilder, Retryable};
    let backoff = ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(500))
        .with_max_delay(std::time::Duration::from_secs(10))
        .with_jitter()
        .with_total_delay(Some(deadline))
        .without_max_times();
    op.retry(backoff).sleep(tokio::time::sleep).when(pending).await
}

fn not_found(code: &str) -> bool {
    code.ends_with(".NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFound")
        || matches!(
            code,
            "NoSuchEntity"
                // Route 53.
                | "NoSuchHostedZone"
                | "InvalidPermission.NotFound"
                | "ParameterNotFound"
                | "MISSING"
                | "NoSuchKey"
                | "NoSuchBucket"
                | "NoSuchVersion"
                | "NoSuchPublicAccessBlockConfiguration"
                | "ServerSideEncryptionConfigurationNotFoundError"
        )
}

/// Class of an AWS error code (with the HTTP status for codeless 5xx replies).
pub fn class_of(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    match code {
        Some(c) if THROTTLING.contains(&c) => ErrorClass::Retryable(RetryReason::Throttling),
        Some(c) if QUOTA.contains(&c) => ErrorClass::Fatal,
        Some(c) if IN_USE.contains(&c) => ErrorClass::Retryable(RetryReason::DependencyViolation),
        Some(c) if not_found(c) => ErrorClass::NotFound,
        Some(c) if CONFLICT.contains(&c) || c.contains("AlreadyExists") => ErrorClass::Conflict,
        Some(c) if TRANSIENT.contains(&c) => ErrorClass::Retryable(RetryReason::Transient),
        _ if status.is_some_and(|s| s == 429) => ErrorClass::Retryable(RetryReason::Throttling),
        _ if status.is_some_and(|s| s >= 500) => ErrorClass::Retryable(RetryReason::Transient),
        _ => ErrorClass::Fatal,
    }
}

/// Class of an error where the code alone is too coarse and the message decides.
pub fn class_with_message(code: Option<&str>, message: &str, status: u16) -> ErrorClass {
    match code {
        // ECS says "not found" for task definitions only in its message.
        Some("ClientException") if message.contains("Unable to describe task definition") => ErrorClass::NotFound,
        // Auto Scaling says "not found" with a validation error.
        Some("ValidationError") if message.contains("not found") && message.contains("AutoScalingGroup") => {
            ErrorClass::NotFound
        }
        // IAM, when another process created the same service-linked role a moment before.
        Some("InvalidInput") if message.contains("has been taken") => ErrorClass::Conflict,
        // AWS's wording varies in case ("Unable to assume", "ECS Service Linked Role").
        Some(c) if PROPAGATION.iter().any(|(pc, words)| *pc == c && message.to_lowercase().contains(words)) => {
            ErrorClass::Retryable(RetryReason::Propagation)
        }
        _ => class_of(code, Some(status)),
    }
}

/// Classify an SDK error from operation `op`.
pub fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> ResourceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match &err {
        // An error answer that is not an AWS error document (a plain-text 503 from a load
        // balancer): classed by its status, named in a line.
        SdkError::ServiceError(se) if se.err().code().is_none() && se.err().message().is_none() => {
            let status = se.raw().status_code();
            ResourceError::new(
                class_of(None, Some(status)),
                format!("{op}: HTTP {status} with a body that is not an AWS error"),
            )
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().map(str::to_string);
            let message =
                se.err().message().map(str::to_string).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            let class = class_with_message(code.as_deref(), &message, se.raw().status_code());
            let hint = if code.as_deref().is_some_and(|c| QUOTA.contains(&c)) {
                format!(" ({} quota: {QUOTA_HINT})", code.as_deref().unwrap_or_default())
            } else {
                String::new()
            };
            let mut e = ResourceError::new(class, format!("{op}: {message}{hint}"));
            e.code = code;
            e.operation = Some(op);
            // The SDK keeps the `x-amzn-RequestId` header here (aws-types, `RequestId`).
            e.request_id = se.err().meta().extra("aws_request_id").map(Box::from);
            e
        }
        // An answer the SDK could not read (an HTML 500 from a proxy or an emulator): say
        // what it was in a line, not the whole response, and try again.
        SdkError::ResponseError(re) => ResourceError::new(
            ErrorClass::Retryable(RetryReason::Transient),
            format!("{op}: HTTP {} with a body that is not an AWS error", re.raw().status_code()),
        ),
        // No answer: try again.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ResourceError::new(
            ErrorClass::Retryable(RetryReason::Transient),
            format!("{op}: {}", DisplayErrorContext(&err)),
        ),
        _ => ResourceError::fatal(format!("{op}: {}", DisplayErrorContext(&err))),
    }
}

/// The status code of a raw response, whatever its type.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// For calls that undo something: already undone is fine.
pub fn gone_is_ok<T>(result: Result<T, ResourceError>) -> Result<(), ResourceError> {
    match result {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// For reads: a not-found answer means there is none.
pub fn absent_if_gone<T>(result: Result<T, ResourceError>) -> Result<Option<T>, ResourceError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `.await.map_err(aws(op))?` on any SDK call.
pub fn aws<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> ResourceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    move |e| classify(op, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aws_error_keeps_its_operation_code_and_request_id() {
        use aws_smithy_types::error::ErrorMetadata;
        let meta = ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message("not allowed")
            .custom("aws_request_id", "1f2e-req")
            .build();
        let err = aws_sdk_ecr::operation::create_repository::CreateRepositoryError::generic(meta);
        let raw = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let e = classify("CreateRepository", SdkError::service_error(err, raw));
        assert_eq!(e.operation, Some("CreateRepository"));
        assert_eq!(e.request_id.as_deref(), Some("1f2e-req"));
        assert_eq!(e.to_string(), "AccessDeniedException: CreateRepository: not allowed (AWS request id 1f2e-req)");
    }

    #[test]
    fn codes_map_to_classes() {
        // S3's conditional writes: a lost race is retried, a changed object is a conflict.
        assert_eq!(
            class_of(Some("ConditionalRequestConflict"), Some(409)),
            ErrorClass::Retryable(RetryReason::Transient)
        );
        assert_eq!(class_of(Some("PreconditionFailed"), Some(412)), ErrorClass::Conflict);
        assert_eq!(class_of(Some("NoSuchKey"), Some(404)), ErrorClass::NotFound);
        let t = ErrorClass::Retryable(RetryReason::Throttling);
        assert_eq!(class_of(Some("RequestLimitExceeded"), Some(503)), t);
        assert_eq!(class_of(Some("Throttling"), Some(400)), t);
        assert_eq!(class_of(Some("ThrottlingException"), Some(400)), t);
        assert_eq!(
            class_of(Some("DependencyViolation"), Some(400)),
            ErrorClass::Retryable(RetryReason::DependencyViolation)
        );
        assert_eq!(class_of(Some("InvalidVpcID.NotFound"), Some(400)), ErrorClass::NotFound);
        assert_eq!(class_of(Some("InvalidNatGatewayID.NotFound"), Some(400)), ErrorClass::NotFound);
        assert_eq!(class_of(Some("NoSuchEntity"), Some(404)), ErrorClass::NotFound);
        assert_eq!(class_of(Some("ResourceNotFoundException"), Some(404)), ErrorClass::NotFound);
        assert_eq!(class_of(Some("InvalidLaunchTemplateName.AlreadyExistsException"), Some(400)), ErrorClass::Conflict);
        assert_eq!(class_of(Some("EntityAlreadyExists"), Some(409)), ErrorClass::Conflict);
        assert_eq!(class_of(None, Some(500)), ErrorClass::Retryable(RetryReason::Transient));
        assert_eq!(class_of(None, Some(429)), t);
        assert_eq!(class_of(Some("UnauthorizedOperation"), Some(403)), ErrorClass::Fatal);
        assert_eq!(class_of(Some("InvalidParameterValue"), Some(400)), ErrorClass::Fatal);
        // Quotas are not throttling: no backoff clears them.
        for quota in ["LimitExceededException", "LimitExceeded", "VpcLimitExceeded", "AddressLimitExceeded"] {
            assert_eq!(class_of(Some(quota), Some(400)), ErrorClass::Fatal, "{quota}");
        }
    }

    #[test]
    fn a_new_ids_not_found_is_propagation_only_on_the_calls_that_use_it() {
        let fresh = ResourceError::new(ErrorClass::NotFound, "x").with_code("InvalidGroup.NotFound");
        assert!(not_visible_yet(&fresh));
        let other = ResourceError::new(ErrorClass::NotFound, "x").with_code("NoSuchEntity");
        assert!(!not_visible_yet(&other));
        // The class itself stays "not found": reads and deletes keep that meaning.
        assert_eq!(class_of(Some("InvalidGroup.NotFound"), Some(400)), ErrorClass::NotFound);
    }

    #[test]
    fn a_new_account_s_ecs_service_linked_role_is_waited_for_in_any_case() {
        let p = ErrorClass::Retryable(RetryReason::Propagation);
        for message in [
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
            "ECS Service Linked Role does not exist. Please create it and try again.",
        ] {
            assert_eq!(class_with_message(Some("InvalidParameterException"), message, 400), p, "{message}");
        }
        let taken =
            "Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix.";
        assert_eq!(class_with_message(Some("InvalidInput"), taken, 400), ErrorClass::Conflict);
    }

    #[test]
    fn messages_refine_coarse_codes() {
        let p = ErrorClass::Retryable(RetryReason::Propagation);
        assert_eq!(
            class_with_message(
                Some("ValidationError"),
                "You must use a valid fully-formed launch template. Value (arn:aws:iam::1:instance-profile/x) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
                400
            ),
            p
        );
        assert_eq!(
            class_with_message(
                Some("ClientException"),
                "ECS was unable to assume the role 'arn:aws:iam::1:role/x' that was provided for this task.",
                400
            ),
            p
        );
        // OpenSearch setting an access policy whose role is seconds old (the issue's text).
        assert_eq!(class_with_message(Some("InvalidTypeException"), "Error setting policy: [{...}]", 400), p);
        assert_eq!(
            class_with_message(
                Some("ValidationError"),
                "AutoScalingGroup name not found - AutoScalingGroup 'g' not found",
                400
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_with_message(Some("ClientException"), "Unable to describe task definition.", 400),
            ErrorClass::NotFound
        );
        // Other validation errors stay fatal: a mistake is not retried.
        assert_eq!(
            class_with_message(Some("ValidationError"), "Max bound, 1, must be >= desired capacity 2", 400),
            ErrorClass::Fatal
        );
        assert_eq!(
            class_of(Some("ClusterContainsServicesException"), Some(400)),
            ErrorClass::Retryable(RetryReason::DependencyViolation)
        );
    }
}
