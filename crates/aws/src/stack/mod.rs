//! The stack: which nodes exist and which depend on which, built from deploy.yaml, one
//! file per area. Node ids are in `ids`, the names resources carry in AWS in `names`.

mod compute;
mod data_stores;
mod firewalls;
mod identities;
pub mod ids;
pub mod names;
mod network;
mod platform;
mod workloads;

use temporalctl_config::{Deploy, capacity};
use temporalctl_engine::{Graph, GraphBuilder, GraphError};

pub use ids::*;
pub use names::*;

use crate::Aws;

/// Build the whole graph for a validated deployment. `counts` are the services' desired
/// counts (deploy.yaml's, or what `scale` recorded): they choose how each service rolls.
pub fn build(d: &Deploy, aws: &Aws, counts: &capacity::Counts) -> Result<Graph, GraphError> {
    let mut g = GraphBuilder::default();
    network::network(&mut g, d, aws);
    platform::platform(&mut g, d, aws);
    identities::identities(&mut g, d, aws);
    firewalls::firewalls(&mut g, d, aws);
    data_stores::data_stores(&mut g, d, aws);
    workloads::workloads(&mut g, d, aws);
    compute::node_groups(&mut g, d, aws);
    workloads::services(&mut g, d, aws, counts);
    g.build()
}
