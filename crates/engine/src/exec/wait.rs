//! Waiting on AWS: one helper reads a node until a check accepts what the read found,
//! with backoff, a deadline, progress events and Ctrl-C.

use std::time::Duration;

use tokio::time::Instant;

use super::run::following;
use super::{Engine, NEW_ID_GRACE};
use crate::event::EventKind;
use crate::graph::Node;
use crate::resource::{Cx, Observed, Status};
use crate::retry::{Retries, wait_for};
use crate::{ErrorClass, ResourceError};

/// What a wait's check makes of one read: done (with its result), still waiting (with the
/// state to show), or an error that ends the wait.
pub(super) type Check<T> = Result<Result<T, String>, ResourceError>;

impl Engine<'_> {
    /// Read `node` (with `cx`) until `check` accepts the read, for up to `deadline`.
    pub(super) async fn wait_until<T>(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        what: &str,
        deadline: Duration,
        check: impl Fn(Option<Observed>) -> Check<T>,
    ) -> Result<T, ResourceError> {
        let show = |state: &str| {
            self.emit(EventKind::NodeWaiting { node: node.id.clone(), what: format!("{what} (now {state})") })
        };
        wait_for(&self.opts.retry, &self.cancel, deadline, what, show, || async {
            let read = self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(cx)).await?;
            check(read)
        })
        .await
    }

    /// A fresh read after a change, waited until ready (for the kind's change deadline).
    pub(super) async fn reread_ready(&self, node: &Node, cx: &Cx<'_>) -> Result<Observed, ResourceError> {
        let o = self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(cx)).await?;
        let o = o.ok_or_else(|| {
            ResourceError::new(ErrorClass::NotFound, format!("{} disappeared right after it was changed", node.id))
        })?;
        self.wait_ready(node, cx, o, node.resource.change_deadline()).await
    }

    pub(super) async fn wait_ready(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        observed: Observed,
        deadline: Duration,
    ) -> Result<Observed, ResourceError> {
        let state = match &observed.status {
            Status::Ready => return Ok(observed),
            Status::Pending(state) => state.clone(),
        };
        let what = format!("{} {} to become ready", node.resource.kind(), observed.id);
        self.emit(EventKind::NodeWaiting { node: node.id.clone(), what: format!("{what} (now {state})") });
        let waiting_since = Instant::now();
        self.wait_until(node, &following(cx, &observed.id), &what, deadline, |read| {
            Ok(match read {
                Some(o) => match o.status {
                    Status::Ready => Ok(o),
                    Status::Pending(s) => Err(s),
                },
                // A new id can be unknown to reads for a while (EC2's eventual
                // consistency): not yet visible, not gone.
                None if waiting_since.elapsed() < NEW_ID_GRACE => Err("not visible yet".to_string()),
                None => {
                    return Err(ResourceError::new(
                        ErrorClass::NotFound,
                        format!("{} disappeared while temporalctl waited for it", observed.id),
                    ));
                }
            })
        })
        .await
    }
}
