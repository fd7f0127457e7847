//! Typed attributes: a resource kind declares its fields once, with `attributes!`, and
//! `desired`, `read`, `update` and the replacement rule all use that one declaration.
//! The engine compares and shows them through the generic field-level diff
//! ([`crate::decide`]); the kind never parses a rendered value back.
//!
//! A kind implements [`Kind`]; every `Kind` is a [`Resource`] through the adapter below,
//! which renders the typed attributes for the diff, keeps the typed copy beside them
//! (so `update` and `delete` get the values as read, not text), and turns the changed
//! field names back into the kind's own field enum (so `update` matches exhaustively).

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Attrs, Cx, Inputs, NodeId, Observed, Owned, Resource, ResourceError, Retention};

/// One attribute's comparable text, as `plan` shows it.
pub trait AttrValue {
    fn text(&self) -> String;
}

macro_rules! shown_with_to_string {
    ($($t:ty),*) => {$(
        impl AttrValue for $t {
            fn text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
shown_with_to_string!(String, bool, i32, i64, u16, u32);

/// A set shows as its sorted members, comma-joined.
impl<T: AttrValue + Ord> AttrValue for BTreeSet<T> {
    fn text(&self) -> String {
        self.iter().map(AttrValue::text).collect::<Vec<_>>().join(",")
    }
}

/// A map shows as its sorted `key=value` pairs, comma-joined.
impl<K: AttrValue, V: AttrValue> AttrValue for std::collections::BTreeMap<K, V> {
    fn text(&self) -> String {
        self.iter().map(|(k, v)| format!("{}={}", k.text(), v.text())).collect::<Vec<_>>().join(",")
    }
}

/// Absent shows as empty.
impl<T: AttrValue> AttrValue for Option<T> {
    fn text(&self) -> String {
        self.as_ref().map(AttrValue::text).unwrap_or_default()
    }
}

/// One declared field: its enum value, the name `plan` shows, and whether a
/// difference there means replacing the resource (AWS cannot change it in place).
#[derive(Debug)]
pub struct FieldSpec<F: 'static> {
    pub field: F,
    pub name: &'static str,
    pub forces_replace: bool,
}

/// A kind's typed attributes; `attributes!` writes the implementation.
pub trait Attributes: Clone + Debug + PartialEq + Send + Sync + 'static {
    type Field: Copy + Eq + Debug + Send + Sync + 'static;
    const FIELDS: &'static [FieldSpec<Self::Field>];
    /// One field's comparable text.
    fn text(&self, field: Self::Field) -> String;

    /// Every field rendered, for the diff.
    fn render(&self) -> Attrs {
        Self::FIELDS.iter().map(|f| (f.name.to_string(), self.text(f.field))).collect()
    }

    fn spec(name: &str) -> Option<&'static FieldSpec<Self::Field>> {
        Self::FIELDS.iter().find(|f| f.name == name)
    }
}

/// Declares a kind's attributes: a struct with one public member per field, the field
/// enum, and the names `plan` shows. `replace` marks a field AWS cannot change in place.
/// Members under `read_only` are what a read learns for `update` and `delete` (an
/// association id): never desired, never compared.
///
/// ```ignore
/// attributes! {
///     pub struct SubnetAttrs / SubnetField {
///         Vpc vpc: String = "vpc", replace;
///         PublicIpOnLaunch public_ip_on_launch: bool = "public-ip-on-launch";
///     }
///     read_only {
///         association_ids: BTreeMap<String, String>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! attributes {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident / $fields:ident {
            $( $(#[$fmeta:meta])* $variant:ident $member:ident : $ty:ty = $label:literal $(, $replace:ident)? ; )*
        }
        $( read_only {
            $( $(#[$rmeta:meta])* $rmember:ident : $rty:ty, )*
        } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $member: $ty, )*
            $( $( $(#[$rmeta])* pub $rmember: $rty, )* )?
        }

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $fields {
            $( $variant, )*
        }

        impl $crate::Attributes for $name {
            type Field = $fields;
            const FIELDS: &'static [$crate::FieldSpec<$fields>] = &[
                $( $crate::FieldSpec {
                    field: $fields::$variant,
                    name: $label,
                    forces_replace: $crate::attributes!(@replace $($replace)?),
                }, )*
            ];
            fn text(&self, field: $fields) -> String {
                match field {
                    $( $fields::$variant => $crate::AttrValue::text(&self.$member), )*
                }
            }
        }
    };
    (@replace replace) => { true };
    (@replace) => { false };
}

/// What a typed read found: the generic observation and the kind's own attributes.
#[derive(Debug, Clone)]
pub struct Found<A> {
    pub observed: Observed,
    pub attrs: A,
}

impl<A> std::ops::Deref for Found<A> {
    type Target = Observed;
    fn deref(&self) -> &Observed {
        &self.observed
    }
}

impl Observed {
    /// This observation with the kind's typed attributes.
    pub fn found<A>(self, attrs: A) -> Found<A> {
        Found { observed: self, attrs }
    }
}

/// The reconcile contract of [`Resource`], with the kind's typed attributes. Tags are
/// not a field: the engine compares them and calls `retag`.
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    type Attrs: Attributes;

    fn kind(&self) -> &'static str;

    /// The attributes this resource should have, from its dependencies' outputs. Pure.
    fn desired(&self, inputs: &Inputs) -> Result<Self::Attrs, ResourceError>;

    /// Find the resource: by `cx.recorded_id`, else by ownership tags. Uses no inputs.
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<Self::Attrs>>, ResourceError>;

    async fn create(&self, cx: &Cx<'_>, desired: &Self::Attrs) -> Result<Observed, ResourceError>;

    /// Bring the `changed` fields (never empty) to their desired values.
    async fn update(
        &self,
        cx: &Cx<'_>,
        observed: &Owned<Found<Self::Attrs>>,
        desired: &Self::Attrs,
        changed: &[<Self::Attrs as Attributes>::Field],
    ) -> Result<(), ResourceError>;

    /// Put `cx.tags` on the resource (values overwritten, others' tags left alone).
    async fn retag(&self, cx: &Cx<'_>, observed: &Owned<Observed>) -> Result<(), ResourceError>;

    async fn delete(&self, cx: &Cx<'_>, observed: &Owned<Found<Self::Attrs>>) -> Result<(), ResourceError>;

    /// The nodes whose outputs `desired` reads (the graph's edges).
    fn references(&self) -> Vec<NodeId>;

    fn delete_is_async(&self) -> bool {
        false
    }
    fn wait_deadline(&self) -> Duration {
        Duration::from_secs(600)
    }
    fn change_deadline(&self) -> Duration {
        self.wait_deadline()
    }
    fn busy_refuses_changes(&self) -> bool {
        false
    }
    fn retention(&self) -> Retention {
        Retention::Delete
    }
    fn placed_in(&self) -> Vec<NodeId> {
        Vec::new()
    }
    /// See [`Resource::change_note`]: what is (`before`) and what is wanted (`after`).
    fn change_note(
        &self,
        _before: &Self::Attrs,
        _after: &Self::Attrs,
        _changed: &[<Self::Attrs as Attributes>::Field],
    ) -> Option<String> {
        None
    }
    /// See [`Resource::irreversible`].
    fn irreversible(&self, _field: <Self::Attrs as Attributes>::Field) -> Option<&'static str> {
        None
    }
}

/// The answer of `update` for a field declared `replace`: the engine replaces the
/// resource instead of updating it, so reaching this is a bug.
pub fn replaced_not_updated(kind: &str, field: impl Debug) -> ResourceError {
    ResourceError::fatal(format!("{kind}: {field:?} cannot change in place and is never updated (a bug)"))
}

/// The typed copy an observation carries beside its rendered attributes.
#[derive(Clone, Default)]
pub struct Typed(Option<Arc<dyn Any + Send + Sync>>);

impl Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Typed(..)" } else { "Typed(none)" })
    }
}

/// Two observations are equal by what they show; the typed copy is that same data.
impl PartialEq for Typed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn typed<A: Attributes>(kind: &str, o: &Observed) -> Result<Found<A>, ResourceError> {
    let attrs =
        o.typed.0.as_ref().and_then(|t| t.downcast_ref::<A>()).cloned().ok_or_else(|| {
            ResourceError::fatal(format!("{kind} {} was not read before it was changed (a bug)", o.id))
        })?;
    Ok(Found { observed: o.clone(), attrs })
}

#[async_trait]
impl<K: Kind> Resource for K {
    fn kind(&self) -> &'static str {
        Kind::kind(self)
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Kind::desired(self, inputs)?.render())
    }

    fn forces_replace(&self, field: &str) -> bool {
        K::Attrs::spec(field).is_some_and(|f| f.forces_replace)
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        Ok(Kind::read(self, cx).await?.map(|Found { mut observed, attrs }| {
            observed.attrs = attrs.render();
            observed.typed = Typed(Some(Arc::new(attrs)));
            observed
        }))
    }

    async fn create(&self, cx: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
        // The typed desired attributes, from the same inputs the engine rendered.
        let desired = Kind::desired(self, cx.inputs)?;
        Kind::create(self, cx, &desired).await
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Observed>,
        _: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        let found = o.try_map(|o| typed::<K::Attrs>(Kind::kind(self), o))?;
        let desired = Kind::desired(self, cx.inputs)?;
        let fields = changed
            .iter()
            .map(|name| {
                K::Attrs::spec(name)
                    .map(|f| f.field)
                    .ok_or_else(|| ResourceError::fatal(format!("{} has no field `{name}` (a bug)", Kind::kind(self))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Kind::update(self, cx, &found, &desired, &fields).await
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        Kind::retag(self, cx, o).await
    }

    async fn delete(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        Kind::delete(self, cx, &o.try_map(|o| typed::<K::Attrs>(Kind::kind(self), o))?).await
    }

    fn delete_is_async(&self) -> bool {
        Kind::delete_is_async(self)
    }
    fn wait_deadline(&self) -> Duration {
        Kind::wait_deadline(self)
    }
    fn change_deadline(&self) -> Duration {
        Kind::change_deadline(self)
    }
    fn busy_refuses_changes(&self) -> bool {
        Kind::busy_refuses_changes(self)
    }
    fn retention(&self) -> Retention {
        Kind::retention(self)
    }
    fn references(&self) -> Vec<NodeId> {
        Kind::references(self)
    }
    fn placed_in(&self) -> Vec<NodeId> {
        Kind::placed_in(self)
    }
    fn change_note(&self, observed: &Observed, inputs: &Inputs, changed: &[String]) -> Option<String> {
        let before = typed::<K::Attrs>(Kind::kind(self), observed).ok()?;
        let after = Kind::desired(self, inputs).ok()?;
        let fields: Vec<_> = changed.iter().filter_map(|name| K::Attrs::spec(name).map(|f| f.field)).collect();
        Kind::change_note(self, &before.attrs, &after, &fields)
    }
    fn irreversible(&self, field: &str) -> Option<&'static str> {
        K::Attrs::spec(field).and_then(|f| Kind::irreversible(self, f.field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::attributes! {
        struct Sample / SampleField {
            Cidr cidr: String = "cidr", replace;
            Public public: bool = "public-ip";
            Members members: BTreeSet<String> = "members";
            Size size: Option<i32> = "size";
        }
        read_only {
            seen: String,
        }
    }

    #[test]
    fn declared_fields_render_with_their_names() {
        let s = Sample {
            cidr: "10.0.0.0/16".into(),
            public: false,
            members: ["b".to_string(), "a".to_string()].into(),
            size: None,
            seen: "only read".into(),
        };
        let text = s.render();
        assert_eq!(text["cidr"], "10.0.0.0/16");
        assert_eq!(text["public-ip"], "false");
        assert_eq!(text["members"], "a,b");
        assert_eq!(text["size"], "");
        assert_eq!(text.len(), 4, "read-only members are never compared");
        assert!(Sample::spec("cidr").unwrap().forces_replace);
        assert!(!Sample::spec("public-ip").unwrap().forces_replace);
        assert_eq!(Sample::spec("members").map(|f| f.field), Some(SampleField::Members));
        assert!(Sample::spec("tags").is_none());
    }
}
