//! The data stores: Aurora DSQL (persistence) and OpenSearch (visibility). Both are kept
//! by `down` unless `--destroy-data`, and replacing either is refused without an explicit
//! flag.

pub mod dsql;
pub mod opensearch;
pub mod service_linked_role;

use temporalctl_engine::Observed;

use crate::operate::STEP_TAG_PREFIX;

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
