//! ECS workloads: task definitions (services follow).

pub mod task_definition;
