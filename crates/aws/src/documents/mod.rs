//! Documents sent to AWS, as pure functions of the deployment: IAM policies, the ADOT
//! collector configuration, the Temporal server configuration, the one-off steps' scripts.
//! Each is snapshot-tested.

pub mod adot;
pub mod balancer;
pub mod grafana;
pub mod iam;
pub mod node;
#[cfg(test)]
pub mod sandbox;
pub mod service;
pub mod state_bucket;
pub mod steps;
pub mod task_definition;
pub mod temporal;

/// A JSON value as compact text with its keys sorted (`temporalctl_config::json`): the
/// form policies are compared in.
pub fn canonical_json(value: &serde_json::Value) -> String {
    temporalctl_config::json::sort_keys(value.clone()).to_string()
}

/// FNV-1a of a document's JSON: a stable fingerprint for change detection (not security),
/// kept in a tag where AWS does not return what was sent.
pub fn fingerprint(document: &(impl serde::Serialize + ?Sized)) -> String {
    let text = serde_json::to_string(document).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}
