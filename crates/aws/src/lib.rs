//! AWS side of temporalctl: one module per resource kind, all implementing the engine's
//! `Resource` trait; the stack graph built from deploy.yaml; the one error classifier.

pub mod balancing;
mod clients;
pub mod compute;
pub mod data;
pub mod documents;
pub mod ecs;
pub mod errors;
pub mod flows;
pub mod iam;
pub mod listings;
#[cfg(test)]
mod mocks;
pub mod network;
pub mod operate;
pub mod outputs;
mod pages;
pub mod platform;
pub mod preflight;
pub mod remote_state;
pub mod service_kinds;
pub mod stack;
pub mod sweep;
mod tags;
pub mod verify;

pub use clients::Aws;
