//! Error classes: every AWS error is classified once (in the aws crate) into one of
//! these, and the engine decides retries, adoption and failure from the class alone.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth trying again after a backoff.
    Retryable(RetryReason),
    /// The resource is not there (a delete treats this as success).
    NotFound,
    /// It exists already, or is in a state that forbids the call.
    Conflict,
    /// A wait passed its deadline.
    Timeout,
    /// The user interrupted the run.
    Cancelled,
    /// Anything else: access denied, invalid parameter, a bug.
    Fatal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    Throttling,
    /// 5xx, dropped connections, timeouts on the wire.
    Transient,
    /// Eventual consistency: a fresh role or profile not yet visible to another service.
    Propagation,
    /// Something still uses the resource (ENIs in a subnet); only retried by deletes.
    DependencyViolation,
}

#[derive(Debug)]
pub struct ResourceError {
    pub class: ErrorClass,
    /// The AWS error code, when there is one.
    pub code: Option<String>,
    pub message: String,
    /// Set when several resources carry one node's ownership tags: every id, so `status`
    /// can show them and `down` can delete the recorded one and report the rest.
    pub claimants: Vec<String>,
    /// The AWS operation that failed, when an AWS call did.
    pub operation: Option<&'static str>,
    /// AWS's id of the failed request: the first thing AWS Support asks for.
    pub request_id: Option<Box<str>>,
}

impl ResourceError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, code: None, message: message.into(), claimants: Vec::new(), operation: None, request_id: None }
    }
    /// Several resources carry the tags of one node: a conflict naming them all, never a
    /// guess at which one is ours. `recorded` is the id the state file holds, if any.
    pub fn claimed(kind: &str, node: &str, ids: Vec<String>, recorded: Option<&str>) -> Self {
        let which = match recorded {
            Some(r) if ids.iter().any(|i| i == r) => format!(
                "the state records {r}; delete the other(s) or remove their temporalctl:node tag, then run again (`down` deletes only the recorded one)"
            ),
            _ => "the state records none of them; keep one, delete the others or remove their temporalctl:node tag, then run again".to_string(),
        };
        let mut e = Self::new(
            ErrorClass::Conflict,
            format!("{} {kind}s carry the tags of node {node} ({}): {which}", ids.len(), ids.join(", ")),
        );
        e.claimants = ids;
        e
    }
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Fatal, message)
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        match &self.request_id {
            Some(id) => write!(f, " (AWS request id {id})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ResourceError {}
