//! The data stores: Aurora DSQL (persistence) and OpenSearch (visibility). Both are kept
//! by `down` unless `--destroy-data`, and replacing either is refused without an explicit
//! flag.

pub mod dsql;
pub mod opensearch;
pub mod rate_table;
pub mod service_linked_role;

use temporalctl_engine::Observed;

/// A finished step (`operate`'s schema setup, index, namespace) is recorded as a tag on
/// the data store it changed, so the record lives and dies with the data: a lost state
/// file does not re-run a schema setup, and a replaced cluster gets its schema again.
pub const STEP_TAG_PREFIX: &str = "temporalctl:step/";

/// For the data stores' reads: their step tags (which schema steps ran, written by
/// `operate`) become outputs (`step/<name>`), which the state file records with the rest,
/// at no extra call.
fn expose_step_tags(mut o: Observed) -> Observed {
    let found: Vec<(String, String)> = o
        .tags
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(STEP_TAG_PREFIX).map(|step| (format!("step/{step}"), v.clone())))
        .collect();
    o.outputs.extend(found);
    o
}
