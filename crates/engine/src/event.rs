//! Progress as values: the engine emits events, the binary decides how to show them.

use std::time::Duration;

use crate::resource::{Change, NodeId};

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Since the run started.
    pub elapsed: Duration,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The node's work begins: `reading`, `creating`, `updating`, `deleting`…
    NodeStarted {
        node: NodeId,
        kind: &'static str,
        doing: &'static str,
    },
    /// A wait on AWS: what is awaited and the state AWS last reported.
    NodeWaiting {
        node: NodeId,
        what: String,
    },
    NodeRetrying {
        node: NodeId,
        attempt: u32,
        delay: Duration,
        error: String,
    },
    /// Plan and status: what reconciling the node would do.
    NodePlanned {
        node: NodeId,
        kind: &'static str,
        change: Change,
    },
    NodeFinished {
        node: NodeId,
        outcome: Outcome,
        id: Option<String>,
    },
    NodeFailed {
        node: NodeId,
        error: String,
    },
    /// `down` leaves it in place, and why.
    NodeKept {
        node: NodeId,
        reason: String,
    },
    StateSaved,
    /// A message for the person running it (a note, a warning), shown with the progress.
    Note {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Replaced,
    Unchanged,
    Deleted,
    /// Already gone when `down` came to it.
    Absent,
    /// Left in place on purpose (data stores on `down`).
    Kept,
    /// A lookup `down` forgot: not ours, nothing was deleted.
    Forgotten,
    /// Never started: a failure or an interrupt stopped the run first.
    Skipped,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Replaced => "replaced",
            Outcome::Unchanged => "unchanged",
            Outcome::Deleted => "deleted",
            Outcome::Absent => "absent",
            Outcome::Kept => "kept",
            Outcome::Forgotten => "forgotten (a lookup, not ours to delete)",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// For tests and quiet runs.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn emit(&self, event: Event) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }
}

impl Recorder {
    pub fn kinds(&self) -> Vec<EventKind> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|e| e.kind.clone()).collect()
    }
}
