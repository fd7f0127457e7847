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
}

impl ResourceError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, code: None, message: message.into() }
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
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ResourceError {}
