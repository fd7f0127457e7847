//! The engine: resource graph, bounded parallel walk, reconcile contract, state file,
//! retries and waits. It knows nothing about AWS; tests drive it with fake resources.

mod cancel;
mod error;
mod event;
mod exec;
mod graph;
mod kind;
mod resource;
mod retry;
mod state;

pub use cancel::CancelToken;
pub use error::{ErrorClass, ResourceError, RetryReason};
pub use event::{Event, EventKind, EventSink, Outcome, Recorder};
pub use exec::{Beside, Engine, EngineOptions, Planned, RunReport};
pub use graph::{Graph, GraphBuilder, GraphError, Need, Node};
pub use kind::{AttrValue, Attributes, FieldSpec, Found, Kind, replaced_not_updated};
pub use resource::{
    Attrs, Change, Cx, Difference, FieldDiff, Inputs, KNOWN_AFTER_CREATE, NodeId, Observed, Owned, Resource, Retention,
    Status, Subject, TAG_NODE, TAG_PROJECT, Tags, check_owned, claim, compare, decide, inherited_tags, owned_by,
    ownership_tags,
};
pub use retry::{Report, Retries, RetryPolicy, Retrying, wait_for};
pub use state::{
    FORMAT_VERSION, Holder, LockedState, Phase, Recorded, SaveHook, StaleLock, StateError, StateFile, StateStore,
    StepLog, new_private_file, private_dir,
};
