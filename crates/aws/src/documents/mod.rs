//! Documents sent to AWS, as pure functions of the deployment: IAM policies, the ADOT
//! collector configuration, the Temporal server configuration. Each is snapshot-tested.

pub mod adot;
pub mod iam;
pub mod task_definition;
pub mod temporal;
