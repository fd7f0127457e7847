//! The Temporal images from a checkout of the DSQL fork: upstream Temporal has no DSQL
//! persistence, so the server and admin-tools images are built from the fork, for
//! linux/arm64 (Graviton), and pushed to the project's ECR repositories. `plan` is the
//! build as data; `local` runs it with the machine's `go` and `docker buildx`. AWS (the
//! repositories, the registry login, the check that an image landed) stays with the caller.

pub mod local;
pub mod plan;
pub mod registry;
