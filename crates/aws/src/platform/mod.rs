//! Shared services of the stack: log groups, the Grafana secret, the ADOT parameter, ECR
//! repositories, the Prometheus workspace, the Cloud Map namespace, the ECS cluster.

pub mod cluster;
pub mod images;
pub mod log_group;
pub mod log_resource_policy;
pub mod namespace;
pub mod parameter;
pub mod private_ca;
pub mod prometheus;
pub mod repository;
pub mod secret;
pub mod tls;
