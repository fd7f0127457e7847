//! The reconcile contract every resource kind implements.
//!
//! A resource says what it wants (`desired`, a flat map of attributes, pure), finds what
//! exists (`read`, by recorded id else by ownership tags), and knows how to `create`,
//! `update` the attributes that differ, and `delete`. The engine owns everything else:
//! the diff, the ownership check, retries, waits, progress and state.
//!
//! Contract, as for kube-rs finalizers: every method may run again after a crash or be
//! cancelled at any `.await`; `delete` must cope with a `create` that never finished;
//! `read` maps every "gone" shape (not-found code, empty result, `deleted` lifecycle
//! state) to `Ok(None)`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ResourceError;

pub type NodeId = String;
/// Desired or observed attributes, each rendered as one comparable string.
pub type Attrs = BTreeMap<String, String>;
pub type Tags = BTreeMap<String, String>;

pub const TAG_PROJECT: &str = "temporalctl:project";
pub const TAG_NODE: &str = "temporalctl:node";

/// What a read found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The AWS identifier (vpc-…, an ARN, a name).
    pub id: String,
    pub attrs: Attrs,
    pub tags: Tags,
    /// Values dependents consume (`id` is always there).
    pub outputs: BTreeMap<String, String>,
    pub status: Status,
    /// The kind's typed attributes behind `attrs` (set by the [`crate::Kind`] adapter).
    pub typed: crate::kind::Typed,
}

impl Observed {
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        let mut outputs = BTreeMap::new();
        outputs.insert("id".to_string(), id.clone());
        Self { id, outputs, ..Default::default() }
    }
    pub fn attr(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attrs.insert(key.to_string(), value.into());
        self
    }
    pub fn output(mut self, key: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.outputs.insert(key.as_ref().to_string(), value.into());
        self
    }
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }
    pub fn status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }
}

/// Lifecycle of an async resource (NAT gateway `pending`, endpoint `pendingAcceptance`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Ready,
    /// Not usable yet; the text is AWS's own state name, shown while waiting.
    Pending(String),
}

/// Outputs of finished dependencies, by node.
#[derive(Debug, Default, Clone)]
pub struct Inputs(BTreeMap<NodeId, BTreeMap<String, String>>, std::collections::BTreeSet<NodeId>);

/// What `plan` puts in place of an output of a dependency it has yet to create.
pub const KNOWN_AFTER_CREATE: &str = "(known after create)";

impl Inputs {
    pub fn insert(&mut self, node: &str, outputs: BTreeMap<String, String>) {
        self.0.insert(node.to_string(), outputs);
    }
    /// `node` will be created: each of its outputs reads as [`KNOWN_AFTER_CREATE`].
    pub fn unknown(&mut self, node: &str) {
        self.1.insert(node.to_string());
    }
    /// An output of a dependency. Only the nodes a resource names in `references` (and
    /// its ordering dependencies) are here: reading another is a bug, reported as one.
    pub fn get(&self, node: &str, key: impl AsRef<str>) -> Result<&str, ResourceError> {
        let key = key.as_ref();
        if self.1.contains(node) {
            return Ok(KNOWN_AFTER_CREATE);
        }
        let outputs = self.0.get(node).ok_or_else(|| {
            ResourceError::fatal(format!("input {node}.{key}: {node} is not among this resource's references (a bug)"))
        })?;
        outputs
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| ResourceError::fatal(format!("input {node}.{key}: {node} has no output `{key}` (a bug)")))
    }
    /// The same output of several dependencies (their ids, ARNs), collected.
    pub fn each<C: FromIterator<String>>(&self, nodes: &[NodeId], key: impl AsRef<str>) -> Result<C, ResourceError> {
        nodes.iter().map(|n| self.get(n, key.as_ref()).map(String::from)).collect()
    }

    /// Whether `node`'s outputs are known.
    pub fn has(&self, node: &str) -> bool {
        self.0.contains_key(node)
    }
}

/// What a resource method gets to work with.
pub struct Cx<'a> {
    pub node: &'a str,
    pub project: &'a str,
    /// The id this node had in the state file, if any.
    pub recorded_id: Option<&'a str>,
    pub inputs: &'a Inputs,
    /// Ownership tags, `Name` and the user's extra tags, to set at creation.
    pub tags: &'a Tags,
    /// Set only for the walk's first look at this node while the walk has changed
    /// nothing yet: the read may then come from one listing of the whole kind made
    /// earlier in the walk (one call for many nodes). Waits and reads after a change are
    /// always fresh.
    pub may_read_from_listing: bool,
    /// Read `recorded_id` alone: a wait after a create, an update or a delete follows the
    /// id it acted on, and never falls back to the lookup by tags (which may find another
    /// resource carrying the same node's tags and take it for the one just deleted).
    pub follow_id: bool,
}

#[async_trait]
pub trait Resource: Send + Sync {
    /// Kind name for messages and the state file (`vpc`, `subnet`…).
    fn kind(&self) -> &'static str;

    /// The attributes this resource should have, computed from its dependencies' outputs.
    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError>;

    /// Whether AWS cannot change `field` in place: a difference there means replacing.
    fn forces_replace(&self, _field: &str) -> bool {
        false
    }

    /// Find the resource: by `cx.recorded_id`, else by ownership tags. Uses no inputs.
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError>;

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError>;

    /// Bring the changed attributes to their desired values. Tags are never among
    /// them: a tag difference goes to `retag`.
    async fn update(
        &self,
        cx: &Cx<'_>,
        observed: &Owned<Observed>,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError>;

    /// Put `cx.tags` on the resource (values overwritten, others' tags left alone).
    async fn retag(&self, cx: &Cx<'_>, observed: &Owned<Observed>) -> Result<(), ResourceError>;

    async fn delete(&self, cx: &Cx<'_>, observed: &Owned<Observed>) -> Result<(), ResourceError>;

    /// Whether the resource lingers after `delete` returns (NAT gateway `deleting`), so
    /// the engine must wait for `read` to come back empty.
    fn delete_is_async(&self) -> bool {
        false
    }

    /// How long to wait for `Status::Ready` or for an async delete.
    fn wait_deadline(&self) -> Duration {
        Duration::from_secs(600)
    }

    /// What a person should know before the `changed` fields of `observed` change in
    /// place (a deployment AWS runs for an hour), the desired state coming from `inputs`:
    /// `plan` shows it beside the change and `up` says it when the update starts.
    fn change_note(&self, _observed: &Observed, _inputs: &Inputs, _changed: &[String]) -> Option<String> {
        None
    }

    /// Why a change of `field` cannot be undone, and how to allow it: `up` refuses such a
    /// change unless the run allows irreversible changes.
    fn irreversible(&self, _field: &str) -> Option<&'static str> {
        None
    }

    /// How long to wait for `Status::Ready` after an in-place change (a blue/green
    /// deployment can outlast a create).
    fn change_deadline(&self) -> Duration {
        self.wait_deadline()
    }

    /// Whether AWS refuses a change while the resource is still applying one (pending):
    /// `up` then waits for it to be ready before changing it.
    fn busy_refuses_changes(&self) -> bool {
        false
    }

    /// What `down` does with it.
    fn retention(&self) -> Retention {
        Retention::Delete
    }

    /// The nodes whose outputs `desired` reads: the graph's edges come from here, so a
    /// resource cannot read a node it does not depend on.
    fn references(&self) -> Vec<NodeId>;

    /// Dependencies it physically sits in (a domain in its subnet, a subnet in its VPC):
    /// when `down` keeps this resource it must keep those too, or their deletes would
    /// fail on `DependencyViolation` (or take the data with them).
    fn placed_in(&self) -> Vec<NodeId> {
        Vec::new()
    }
}

/// What `down` does with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Delete,
    /// Holds user data: kept unless `down --destroy-data`; replaced only when allowed.
    Data,
    /// Shared with the rest of the account (service-linked roles): never deleted.
    Always,
    /// Only looked up, never created (AWS's published AMI): `down` has nothing to delete
    /// and only forgets it.
    Lookup,
    /// The user's own, named in deploy.yaml for us to build in (an existing VPC, subnets,
    /// DSQL cluster): read, never created, changed, replaced or deleted, not even by
    /// `down --destroy-data`, which says it keeps it and forgets it.
    Borrowed,
}

/// One attribute that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field's name as the kind declares it, or `tags`, or `depends-on`.
    pub field: String,
    pub from: Option<String>,
    pub to: String,
    /// True when the field cannot change in place.
    pub forces_replace: bool,
    /// What differs: one of the kind's fields, or something the engine itself owns.
    #[serde(skip)]
    pub subject: Subject,
}

/// What a [`FieldDiff`] is about. Tags and dependencies are the engine's, never a field
/// of a kind, even when a kind names a field the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Subject {
    #[default]
    Field,
    /// Our tags are missing or changed: the engine calls `retag`.
    Tags,
    /// A dependency is new or replaced, so this node is made again.
    Dependency,
}

impl FieldDiff {
    pub fn field(field: &str, from: Option<&String>, to: &str, forces_replace: bool) -> Self {
        Self { field: field.into(), from: from.cloned(), to: to.into(), forces_replace, subject: Subject::Field }
    }
    pub fn tags(missing: Vec<String>) -> Self {
        Self { field: "tags".into(), from: None, to: missing.join(","), forces_replace: false, subject: Subject::Tags }
    }
    pub fn dependency(dep: &str) -> Self {
        Self {
            field: "depends-on".into(),
            from: None,
            to: format!("{dep} (new)"),
            forces_replace: true,
            subject: Subject::Dependency,
        }
    }
}

/// What reconciling a node will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update {
        diffs: Vec<FieldDiff>,
    },
    Replace {
        diffs: Vec<FieldDiff>,
    },
    NoChange,
    /// Several resources carry this node's tags: nothing is changed until the user
    /// removes the extra ones. `recorded` is the one the state file names, if any.
    Conflict {
        claimants: Vec<String>,
        recorded: Option<String>,
    },
}

impl Change {
    pub fn name(&self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update { .. } => "update",
            Change::Replace { .. } => "replace",
            Change::NoChange => "no change",
            Change::Conflict { .. } => "conflict",
        }
    }
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Change::NoChange | Change::Conflict { .. })
    }
}

/// How an existing resource differs from what is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    None,
    /// Every difference can be changed in place.
    InPlace(Vec<FieldDiff>),
    /// At least one difference cannot (all differences listed).
    Replace(Vec<FieldDiff>),
}

/// Compare desired with observed. Pure: the same inputs always give the same answer.
/// Only desired attributes count; tags must include the desired ones (AWS and other
/// tools may add their own).
pub fn compare(
    desired: &Attrs,
    desired_tags: &Tags,
    observed: &Observed,
    forces_replace: impl Fn(&str) -> bool,
) -> Difference {
    let mut diffs: Vec<FieldDiff> = desired
        .iter()
        .filter(|(k, v)| observed.attrs.get(*k) != Some(v))
        .map(|(k, v)| FieldDiff::field(k, observed.attrs.get(k), v, forces_replace(k)))
        .collect();
    let missing = missing_tags(desired_tags, observed);
    if !missing.is_empty() {
        diffs.push(FieldDiff::tags(missing));
    }
    if diffs.is_empty() {
        Difference::None
    } else if diffs.iter().any(|d| d.forces_replace) {
        Difference::Replace(diffs)
    } else {
        Difference::InPlace(diffs)
    }
}

/// What reconciling a node will do: create it when nothing was found, else what
/// [`compare`] says.
pub fn decide(
    desired: &Attrs,
    desired_tags: &Tags,
    observed: Option<&Observed>,
    forces_replace: impl Fn(&str) -> bool,
) -> Change {
    let Some(observed) = observed else {
        return Change::Create;
    };
    match compare(desired, desired_tags, observed, forces_replace) {
        Difference::None => Change::NoChange,
        Difference::InPlace(diffs) => Change::Update { diffs },
        Difference::Replace(diffs) => Change::Replace { diffs },
    }
}

/// The desired tags a resource lacks or carries with another value, as `key=value`.
pub fn missing_tags(desired: &Tags, observed: &Observed) -> Vec<String> {
    desired.iter().filter(|(k, v)| observed.tags.get(*k) != Some(v)).map(|(k, v)| format!("{k}={v}")).collect()
}

/// Tags every resource of `node` carries.
pub fn ownership_tags(project: &str, node: &str, name: &str, extra: &Tags) -> Tags {
    let mut tags = extra.clone();
    tags.insert("Name".into(), name.into());
    tags.insert(TAG_PROJECT.into(), project.into());
    tags.insert(TAG_NODE.into(), node.into());
    tags
}

/// Tags for a part AWS does not tag itself (a group's rules, a cluster's capacity
/// providers): it is ours exactly when the thing it belongs to carries our project, so
/// it stands with the node's own tags then, and with the parent's (failing the ownership
/// check) otherwise.
pub fn inherited_tags(parent: Tags, cx: &Cx<'_>) -> Tags {
    if parent.get(TAG_PROJECT).is_some_and(|p| p == cx.project) { cx.tags.clone() } else { parent }
}

/// What a lookup by ownership tags found for one node: nothing, the one, or a conflict
/// naming every claimant ([`ResourceError::claimed`]). With a recorded id among several,
/// it is still a conflict: the others must be dealt with before the node is changed.
pub fn claim<T>(
    mut found: Vec<T>,
    kind: &str,
    cx: &Cx<'_>,
    id_of: impl Fn(&T) -> Option<&str>,
) -> Result<Option<T>, ResourceError> {
    if found.len() <= 1 {
        return Ok(found.pop());
    }
    let ids = found.iter().filter_map(&id_of).map(String::from).collect();
    Err(ResourceError::claimed(kind, cx.node, ids, cx.recorded_id))
}

/// Whether a resource's tags (any map of them) name this project and node.
pub fn owned_by<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>, project: &str, node: &str) -> bool {
    let (mut project_ok, mut node_ok) = (false, false);
    for (k, v) in tags {
        project_ok |= k == TAG_PROJECT && v == project;
        node_ok |= k == TAG_NODE && v == node;
    }
    project_ok && node_ok
}

/// A resource that is ours. Every call that changes or deletes something takes one, and
/// acts on the resource inside it, so a mutation that skipped the check does not compile.
/// Two ways make one: [`Owned::verify`] (and [`check_owned`]) over tags read from AWS with
/// the resource, and [`Owned::created`] for what a create call of this run just made with
/// our tags. Derefs to what it holds.
#[derive(Debug, Clone)]
pub struct Owned<T> {
    inner: T,
}

impl<T> std::ops::Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Owned<T> {
    /// `thing`, if `tags` (read from AWS with it) name this project and node; `id` names
    /// it in the refusal. Nothing without our tags is ever modified or deleted.
    pub fn verify(project: &str, node: &str, id: &str, tags: &Tags, thing: T) -> Result<Self, ResourceError> {
        if owned_by(tags, project, node) {
            return Ok(Owned { inner: thing });
        }
        Err(ResourceError::new(
            crate::ErrorClass::Conflict,
            format!(
                "{id} is not owned by this deployment (tags {TAG_PROJECT}={project} and {TAG_NODE}={node} missing); temporalctl never modifies or deletes it. If it is ours, restore the tags; if the state file names it by mistake, remove that entry"
            ),
        ))
    }

    /// `thing`, a resource of the user's that deploy.yaml names for us to work in (a DSQL
    /// cluster the schema steps write to), if what was found (`found_id`) is exactly what
    /// deploy.yaml names (`named_id`). Ours to use, never to reconfigure or delete.
    pub fn named_in_config(named_id: &str, found_id: &str, thing: T) -> Result<Self, ResourceError> {
        if named_id == found_id {
            return Ok(Owned { inner: thing });
        }
        Err(ResourceError::new(
            crate::ErrorClass::Conflict,
            format!(
                "the state file names {found_id}, but deploy.yaml names {named_id}; run `temporalctl up` again (it records what deploy.yaml names)"
            ),
        ))
    }

    /// What a create call of this run just made, with `cx.tags` (our ownership tags among
    /// them): the rest of its setup (rules, policies) acts on it as ours.
    /// `_cx` is the create's context: only a create, which holds the tags it set, has one.
    pub fn created(_cx: &Cx<'_>, thing: T) -> Self {
        Owned { inner: thing }
    }

    /// The same checked resource, seen through another type (the engine's typed copy).
    pub(crate) fn try_map<U, E>(&self, f: impl FnOnce(&T) -> Result<U, E>) -> Result<Owned<U>, E> {
        Ok(Owned { inner: f(&self.inner)? })
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl Owned<Observed> {
    /// This checked resource as a read after our own update shows it: the same one read
    /// afresh, or what the update made in its place (a task definition's next revision).
    /// Ours either way, being our update's result, whatever tags it shows yet.
    pub(crate) fn after_update(&self, fresh: Observed) -> Self {
        Owned { inner: fresh }
    }
}

/// The ownership check of an observation.
pub fn check_owned(project: &str, node: &str, observed: &Observed) -> Result<Owned<Observed>, ResourceError> {
    Owned::verify(project, node, &observed.id, &observed.tags, observed.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn decide_covers_every_branch() {
        let want = attrs(&[("cidr", "10.0.0.0/16"), ("dns", "true")]);
        let cidr = |f: &str| f == "cidr";
        let tags = ownership_tags("p", "vpc", "p-vpc", &Tags::new());
        assert_eq!(decide(&want, &tags, None, cidr), Change::Create);

        let same = Observed::new("vpc-1")
            .attr("cidr", "10.0.0.0/16")
            .attr("dns", "true")
            .attr("extra", "x")
            .tags(tags.clone());
        assert_eq!(decide(&want, &tags, Some(&same), cidr), Change::NoChange);

        let dns_off = same.clone().attr("dns", "false");
        let Change::Update { diffs } = decide(&want, &tags, Some(&dns_off), cidr) else { panic!() };
        assert_eq!(diffs[0].field, "dns");
        assert_eq!(diffs[0].from.as_deref(), Some("false"));

        let moved = same.clone().attr("cidr", "10.1.0.0/16");
        assert!(matches!(decide(&want, &tags, Some(&moved), cidr), Change::Replace { .. }));

        let mut untagged = same.clone();
        untagged.tags.remove("Name");
        let Change::Update { diffs } = decide(&want, &tags, Some(&untagged), cidr) else { panic!() };
        assert_eq!(diffs[0].field, "tags");
        assert_eq!(diffs[0].subject, Subject::Tags);
    }

    #[test]
    fn ownership_needs_both_tags() {
        let tags = ownership_tags("p", "vpc", "p-vpc", &Tags::new());
        let ours = Observed::new("vpc-1").tags(tags);
        assert!(check_owned("p", "vpc", &ours).is_ok());
        assert!(check_owned("other", "vpc", &ours).is_err());
        assert!(check_owned("p", "subnet/a", &ours).is_err());
        assert!(check_owned("p", "vpc", &Observed::new("vpc-2")).is_err());
    }
}
