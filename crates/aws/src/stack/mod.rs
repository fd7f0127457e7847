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
use crate::platform::images::Pins;

/// Build the whole graph for a validated deployment. `counts` are the services' desired
/// counts (deploy.yaml's, or what `scale` recorded): they choose how each service rolls.
/// `pins` are the images' digests: a task definition whose image has one names it by
/// digest, any other by its tag.
pub fn build(d: &Deploy, aws: &Aws, counts: &capacity::Counts, pins: &Pins) -> Result<Graph, GraphError> {
    let mut g = GraphBuilder::default();
    network::network(&mut g, d, aws);
    platform::platform(&mut g, d, aws);
    identities::identities(&mut g, d, aws);
    firewalls::firewalls(&mut g, d, aws);
    data_stores::data_stores(&mut g, d, aws);
    workloads::workloads(&mut g, d, aws, pins);
    compute::node_groups(&mut g, d, aws);
    workloads::services(&mut g, d, aws, counts);
    g.build()
}
