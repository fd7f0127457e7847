//! Retries and waits, bounded by a wall-clock deadline; never a fixed sleep.
//! - Retries back off exponentially with jitter: the first comes quickly, later ones
//!   spread out, and many clients retrying at once do not stay in step.
//! - Waits for a resource to become ready poll at a fifth of the time waited so far,
//!   within the policy's bounds: a resource AWS readies in 90 s is seen within ~18 s of
//!   it, one that takes 20 minutes within `max_delay`, a quick one within `min_delay`.
//!   How late a wait notices is what separates `up` from its critical path
//!   (docs/performance.md).

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use crate::event::EventKind;
use crate::{CancelToken, ErrorClass, ResourceError, RetryReason};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// How long transient failures (throttling, 5xx, propagation) are retried.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// Which classes a call retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// Throttling, transient and propagation errors.
    Transient,
    /// Also `DependencyViolation` (deletes waiting for ENIs to go).
    AlsoDependencies,
}

impl Retries {
    pub fn covers(self, class: ErrorClass) -> bool {
        match class {
            ErrorClass::Retryable(RetryReason::DependencyViolation) => self == Retries::AlsoDependencies,
            ErrorClass::Retryable(_) => true,
            _ => false,
        }
    }
}

/// The one way an AWS call is retried, in the graph and beside it: by error class, with
/// backoff and jitter, within a deadline, stopped by Ctrl-C, and each retry reported as
/// a `NodeRetrying` event where there is somewhere to report it.
#[derive(Clone, Copy)]
pub struct Retrying<'a> {
    pub policy: &'a RetryPolicy,
    pub cancel: &'a CancelToken,
    pub report: Option<&'a dyn Report>,
}

/// Somewhere a retry is reported (the engine's walk, the operator's events).
pub trait Report: Sync {
    fn report(&self, event: EventKind);
}

impl<F: Fn(EventKind) + Sync> Report for F {
    fn report(&self, event: EventKind) {
        self(event)
    }
}

impl Retrying<'_> {
    /// `op` for `what` (a node id, or what the call is for).
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        retries: Retries,
        deadline: Duration,
        op: F,
    ) -> Result<T, ResourceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ResourceError>>,
    {
        let on_retry = |attempt, delay, e: &ResourceError| {
            if let Some(to) = self.report {
                to.report(EventKind::NodeRetrying { node: what.to_string(), attempt, delay, error: e.to_string() });
            }
        };
        retry_when(self.policy, self.cancel, deadline, retries, on_retry, op).await
    }
}

/// Run `op` until it succeeds, fails with a class `retries` does not cover, or the
/// next attempt would start after `deadline`. `on_retry(attempt, delay, error)` is told
/// before each sleep.
async fn retry_when<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancelToken,
    deadline: Duration,
    retries: Retries,
    mut on_retry: impl FnMut(u32, Duration, &ResourceError),
    mut op: F,
) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ResourceError>>,
{
    let until = Instant::now() + deadline;
    let mut delays = policy.backoff();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retries.covers(e.class) => {
                let delay = delays.next().unwrap_or(policy.max_delay);
                if Instant::now() + delay > until {
                    return Err(ResourceError {
                        message: format!(
                            "{} (still failing after {attempt} attempts over {})",
                            e.message,
                            humantime::format_duration(round(deadline))
                        ),
                        ..e
                    });
                }
                on_retry(attempt, delay, &e);
                sleep_or_cancel(delay, cancel).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Poll `probe` until it reports `Some(done)`, at `poll_delay` intervals, or fail with a
/// timeout naming `what` and the last state seen.
/// Share of the time already waited that the next poll waits.
const POLL_FRACTION: f64 = 0.2;

/// The delay before a wait's next poll, `waited` into it: proportional to the wait, within
/// the policy's bounds, with ±10% jitter so waits started together drift apart.
fn poll_delay(policy: &RetryPolicy, waited: Duration, polls: u64) -> Duration {
    use std::hash::BuildHasher;
    let base = waited.mul_f64(POLL_FRACTION).clamp(policy.min_delay, policy.max_delay);
    let random = std::collections::hash_map::RandomState::new().hash_one(polls);
    let jitter = 0.9 + 0.2 * (random % 1000) as f64 / 1000.0;
    base.mul_f64(jitter)
}

pub async fn wait_for<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancelToken,
    deadline: Duration,
    what: &str,
    mut on_poll: impl FnMut(&str),
    mut probe: F,
) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, ResourceError>>,
{
    let started = Instant::now();
    let until = started + deadline;
    let mut polls = 0;
    loop {
        match probe().await? {
            Ok(done) => return Ok(done),
            Err(state) => {
                polls += 1;
                let delay = poll_delay(policy, started.elapsed(), polls);
                if Instant::now() + delay > until {
                    return Err(ResourceError::new(
                        ErrorClass::Timeout,
                        format!(
                            "gave up after {} waiting for {what}; last state: {state}",
                            humantime::format_duration(round(deadline))
                        ),
                    ));
                }
                on_poll(&state);
                sleep_or_cancel(delay, cancel).await?;
            }
        }
    }
}

async fn sleep_or_cancel(delay: Duration, cancel: &CancelToken) -> Result<(), ResourceError> {
    tokio::select! {
        () = tokio::time::sleep(delay) => Ok(()),
        () = cancel.cancelled() => Err(ResourceError::new(ErrorClass::Cancelled, "interrupted")),
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn throttled() -> ResourceError {
        ResourceError::new(ErrorClass::Retryable(RetryReason::Throttling), "slow down")
    }

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_jittered_delays_until_success() {
        let calls = Cell::new(0);
        let mut delays = Vec::new();
        let out = retry_when(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(300),
            Retries::Transient,
            |_, d, _| delays.push(d),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 4 { Err(throttled()) } else { Ok(n) } }
            },
        )
        .await
        .unwrap();
        assert_eq!(out, 4);
        assert_eq!(delays.len(), 3);
        // Jittered exponential: each delay lies in [base, 2*base) for base 1s, 2s, 4s.
        for (d, base) in delays.iter().zip([1u64, 2, 4]) {
            assert!(*d >= Duration::from_secs(base) && *d < Duration::from_secs(2 * base), "{delays:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_deadline_and_says_so() {
        let started = Instant::now();
        let err = retry_when(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(30),
            Retries::Transient,
            |_, _, _| {},
            || async { Err::<(), _>(throttled()) },
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() <= Duration::from_secs(30));
        assert!(err.message.contains("still failing after"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_and_dependency_violations_outside_deletes_are_not_retried() {
        let calls = Cell::new(0);
        let dep = || ResourceError::new(ErrorClass::Retryable(RetryReason::DependencyViolation), "in use");
        let _: Result<(), _> = retry_when(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(60),
            Retries::Transient,
            |_, _, _| {},
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(dep()) }
            },
        )
        .await;
        assert_eq!(calls.get(), 1);
        calls.set(0);
        retry_when(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(60),
            Retries::AlsoDependencies,
            |_, _, _| {},
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 3 { Err(dep()) } else { Ok(()) } }
            },
        )
        .await
        .unwrap();
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_end_on_state_and_time_out_naming_the_last_state() {
        let polls = Cell::new(0);
        let v = wait_for(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(600),
            "nat",
            |_| {},
            || {
                polls.set(polls.get() + 1);
                let n = polls.get();
                async move { Ok(if n < 3 { Err("pending".to_string()) } else { Ok(n) }) }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
        let err = wait_for::<(), _, _>(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(60),
            "nat-gateway nat-1",
            |_| {},
            || async { Ok(Err("pending".to_string())) },
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, ErrorClass::Timeout);
        assert!(err.message.contains("nat-gateway nat-1") && err.message.contains("last state: pending"), "{err}");
    }

    #[test]
    fn polls_keep_pace_with_the_wait_within_bounds() {
        let p = RetryPolicy::default();
        let around = |d: Duration, secs: f64| {
            let s = d.as_secs_f64();
            s >= secs * 0.9 - 1e-9 && s <= secs * 1.1 + 1e-9
        };
        assert!(around(poll_delay(&p, Duration::ZERO, 1), 1.0), "the first poll comes after min_delay");
        assert!(around(poll_delay(&p, Duration::from_secs(90), 5), 18.0), "a fifth of the time waited");
        assert!(around(poll_delay(&p, Duration::from_secs(1200), 9), 20.0), "never more than max_delay");
    }

    #[tokio::test(start_paused = true)]
    async fn a_minute_of_waiting_is_a_bounded_number_of_polls() {
        let started = Instant::now();
        let polls = Cell::new(0);
        let _ = wait_for::<(), _, _>(
            &RetryPolicy::default(),
            &CancelToken::default(),
            Duration::from_secs(60),
            "opensearch-domain d",
            |_| {},
            || {
                polls.set(polls.get() + 1);
                async { Ok(Err("processing".to_string())) }
            },
        )
        .await;
        assert!(started.elapsed() <= Duration::from_secs(60));
        // 1 s apart for the first 5 s, then a fifth of the time waited: ~18 in a minute, where
        // a fixed 1 s loop would make 60.
        assert!((12..=22).contains(&polls.get()), "{} polls in 60 s", polls.get());
    }
}
