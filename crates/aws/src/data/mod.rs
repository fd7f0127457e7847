//! The data stores: Aurora DSQL (persistence) and OpenSearch (visibility). Both are kept
//! by `down` unless `--destroy-data`, and replacing either is refused without an explicit
//! flag.

pub mod dsql;
pub mod opensearch;
pub mod service_linked_role;
