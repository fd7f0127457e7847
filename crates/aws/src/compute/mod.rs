//! The node groups: the ECS AMI lookup, launch templates, Auto Scaling groups, capacity
//! providers and their attachment to the cluster.

pub mod ami;
pub mod auto_scaling_group;
pub mod capacity_provider;
pub mod cluster_capacity_providers;
pub mod launch_template;
pub mod trunking;
