//! The build as data: what a checkout of the fork must hold, the binaries to cross-compile,
//! the Dockerfiles to build and the tags to push. Pure, so tests read the exact commands;
//! `local` runs them.
//!
//! The steps follow the fork's own release build as the reference deployment runs it
//! (`iw/temporal-dsql-deploy-ecs`, `scripts/build-and-push-ecr.sh`): binaries compiled on
//! the host for linux/arm64 with CGO off into `docker/build/arm64/`, the schema files into
//! `docker/build/temporal/schema/`, then `docker buildx build` of
//! `docker/targets/{server,admin-tools}.Dockerfile` with `docker/` as the context.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// ECS runs the Temporal services on Graviton (arm64) instances.
pub const ARCH: &str = "arm64";
pub const PLATFORM: &str = "linux/arm64";
/// Our own buildx builder (docker-container driver), so the user's default is not changed.
pub const BUILDER: &str = "temporalctl";
/// The Temporal CLI the admin-tools image carries (`temporal operator namespace …` for the
/// namespace step and the cluster check); the version the fork's release build uses.
pub const CLI_PACKAGE: &str = "github.com/temporalio/cli/cmd/temporal";
pub const CLI_VERSION: &str = "v1.5.1";

/// A binary of the fork and the package it is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary {
    pub name: &'static str,
    pub package: &'static str,
}

/// What the fork's Dockerfiles copy from `docker/build/arm64/`, plus the DSQL schema tool.
/// The tool's main package is `cmd/tools/dsql` (the reference script's `./tools/dsql` is
/// not a main package in the fork).
pub const BINARIES: [Binary; 6] = [
    Binary { name: "temporal-server", package: "./cmd/server" },
    Binary { name: "temporal-cassandra-tool", package: "./cmd/tools/cassandra" },
    Binary { name: "temporal-sql-tool", package: "./cmd/tools/sql" },
    Binary { name: "temporal-elasticsearch-tool", package: "./cmd/tools/elasticsearch" },
    Binary { name: "tdbg", package: "./cmd/tools/tdbg" },
    Binary { name: "temporal-dsql-tool", package: "./cmd/tools/dsql" },
];

pub const SERVER_DOCKERFILE: &str = "docker/targets/server.Dockerfile";
pub const ADMIN_TOOLS_DOCKERFILE: &str = "docker/targets/admin-tools.Dockerfile";

/// A checkout of the fork, checked to hold everything the build reads.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
}

impl Source {
    /// `Err` lists what is missing, so the user sees at once that the path is wrong.
    pub fn open(dir: &Path) -> Result<Source, Vec<String>> {
        let mut wanted: Vec<String> = vec!["go.mod".into(), "schema".into(), SERVER_DOCKERFILE.into()];
        wanted.push(ADMIN_TOOLS_DOCKERFILE.into());
        wanted.extend(BINARIES.iter().map(|b| b.package.trim_start_matches("./").to_string()));
        let missing: Vec<String> = wanted.into_iter().filter(|p| !dir.join(p).exists()).collect();
        if missing.is_empty() { Ok(Source { dir: dir.to_path_buf() }) } else { Err(missing) }
    }

    /// The Docker build context of the fork's Dockerfiles.
    pub fn context(&self) -> PathBuf {
        self.dir.join("docker")
    }
    pub fn binaries(&self) -> PathBuf {
        self.dir.join("docker/build").join(ARCH)
    }
    pub fn schema(&self) -> PathBuf {
        self.dir.join("docker/build/temporal/schema")
    }
    /// Where the admin-tools Dockerfile with the DSQL tool added is written.
    pub fn admin_tools_dockerfile(&self) -> PathBuf {
        self.dir.join("docker/build/admin-tools.temporalctl.Dockerfile")
    }
}

/// One local command. `env` is added to the inherited environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

impl Command {
    pub fn new(program: &str, args: &[&str], cwd: &Path) -> Command {
        Command {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            cwd: cwd.to_path_buf(),
        }
    }

    /// As a person would type it (the env first), for progress lines and errors.
    pub fn shown(&self) -> String {
        let env = self.env.iter().map(|(k, v)| format!("{k}={v} "));
        let args = self.args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() });
        format!("{}{} {}", env.collect::<String>(), self.program, args.collect::<Vec<_>>().join(" "))
    }
}

/// Static linux/arm64 binaries, whatever the host: the images are alpine, without glibc.
fn cross(mut c: Command) -> Command {
    c.env = vec![("GOOS".into(), "linux".into()), ("GOARCH".into(), ARCH.into()), ("CGO_ENABLED".into(), "0".into())];
    c
}

pub fn compile(source: &Source, binary: &Binary) -> Command {
    let out = source.binaries().join(binary.name);
    cross(Command::new("go", &["build", "-trimpath", "-o", &out.to_string_lossy(), binary.package], &source.dir))
}

/// `go install` is the one way to build a module at a version without a checkout; for
/// another platform it writes to `$GOPATH/bin/linux_arm64/` (and refuses a set `GOBIN`),
/// which `local::cli_binary` then copies from.
pub fn compile_cli(source: &Source) -> Command {
    let package = format!("{CLI_PACKAGE}@{CLI_VERSION}");
    let mut c = cross(Command::new("go", &["install", "-trimpath", &package], &source.dir));
    c.env.push(("GOBIN".into(), String::new()));
    c
}

/// One image pushed to ECR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// `server` or `admin-tools`.
    pub name: &'static str,
    pub dockerfile: PathBuf,
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<project>/temporal-server`
    pub repository_uri: String,
    /// `temporal.version`: what the task definitions name. The repositories' tags are
    /// immutable, so this is the one tag: it names this build forever.
    pub tag: String,
    /// OCI annotations the image carries as labels (`org.opencontainers.image.revision`…).
    pub labels: Vec<(String, String)>,
}

/// What a build records in the image itself: the Temporal version, and the source's
/// revision when the checkout is a git one (OCI image spec, "Pre-Defined Annotation Keys").
pub fn labels(version: &str, revision: Option<&str>) -> Vec<(String, String)> {
    let mut labels = vec![("org.opencontainers.image.version".to_string(), version.to_string())];
    labels.extend(revision.map(|r| ("org.opencontainers.image.revision".to_string(), r.to_string())));
    labels
}

/// Build for arm64 and push in one step. Without provenance attestations ECR holds one
/// plain image manifest per tag, which `DescribeImages` and ECS read directly.
pub fn build_and_push(source: &Source, image: &Image) -> Command {
    let mut args: Vec<String> = ["buildx", "build", "--builder", BUILDER, "--platform", PLATFORM, "--provenance=false"]
        .map(String::from)
        .into();
    args.extend(["--file".into(), image.dockerfile.to_string_lossy().into_owned()]);
    for (key, value) in &image.labels {
        args.extend(["--label".into(), format!("{key}={value}")]);
    }
    args.extend(["--tag".into(), format!("{}:{}", image.repository_uri, image.tag)]);
    args.extend(["--push".into(), ".".into()]);
    Command { program: "docker".into(), args, env: Vec::new(), cwd: source.context() }
}

/// The password comes on stdin (`local::run`'s `stdin`), never in the arguments, where
/// any user of the machine could read it in the process list.
pub fn login(registry: &str, username: &str, cwd: &Path) -> Command {
    Command::new("docker", &["login", "--username", username, "--password-stdin", registry], cwd)
}

/// The fork's admin-tools Dockerfile copies the server's tools but not
/// `temporal-dsql-tool`, which the schema step runs; one layer adds it. A fork that
/// already ships it is used as it is.
pub fn admin_tools_dockerfile(fork: &str) -> String {
    if fork.contains("temporal-dsql-tool") {
        return fork.to_string();
    }
    format!(
        "{}\n\n# Added by `temporalctl images build`: the DSQL schema tool the schema step runs.\nCOPY --chmod=755 ./build/{ARCH}/temporal-dsql-tool /usr/local/bin/\n",
        fork.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source { dir: PathBuf::from("/src/temporal-dsql") }
    }

    #[test]
    fn binaries_are_static_linux_arm64_builds_into_the_dockerfiles_folder() {
        let c = compile(&source(), &BINARIES[5]);
        assert_eq!(
            c.shown(),
            "GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -o /src/temporal-dsql/docker/build/arm64/temporal-dsql-tool ./cmd/tools/dsql"
        );
        assert_eq!(c.cwd, PathBuf::from("/src/temporal-dsql"));
        assert_eq!(
            compile_cli(&source()).args,
            ["install", "-trimpath", "github.com/temporalio/cli/cmd/temporal@v1.5.1"]
        );
    }

    #[test]
    fn an_image_is_built_for_arm64_with_its_one_tag_and_its_revision_label_and_pushed_from_the_docker_context() {
        let image = Image {
            name: "server",
            dockerfile: source().dir.join(SERVER_DOCKERFILE),
            repository_uri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/temporal-server".into(),
            tag: "1.29.1".into(),
            labels: labels("1.29.1", Some("3f2a9c1d0b7e")),
        };
        insta::assert_snapshot!(build_and_push(&source(), &image).shown(), @"docker buildx build --builder temporalctl --platform linux/arm64 --provenance=false --file /src/temporal-dsql/docker/targets/server.Dockerfile --label org.opencontainers.image.version=1.29.1 --label org.opencontainers.image.revision=3f2a9c1d0b7e --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/temporal-server:1.29.1 --push .");
        assert_eq!(build_and_push(&source(), &image).cwd, PathBuf::from("/src/temporal-dsql/docker"));
        assert_eq!(labels("1.29.1", None).len(), 1, "no revision outside a git checkout");
    }

    #[test]
    fn the_login_password_is_never_an_argument() {
        let c = login("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", Path::new("/"));
        assert_eq!(
            c.args,
            ["login", "--username", "AWS", "--password-stdin", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"]
        );
    }

    #[test]
    fn the_admin_tools_image_gets_the_dsql_tool_once() {
        let fork = "FROM alpine:3.23\nCOPY ./build/${TARGETARCH}/tdbg /usr/local/bin/\nUSER temporal\n";
        let ours = admin_tools_dockerfile(fork);
        assert!(ours.starts_with(fork.trim_end()), "{ours}");
        assert!(ours.ends_with("COPY --chmod=755 ./build/arm64/temporal-dsql-tool /usr/local/bin/\n"), "{ours}");
        assert_eq!(admin_tools_dockerfile(&ours), ours, "a fork that ships the tool is left alone");
    }

    #[test]
    fn a_folder_that_is_not_the_fork_is_named_with_what_it_lacks() {
        let missing = Source::open(Path::new("/nonexistent")).unwrap_err();
        assert!(
            missing.contains(&"go.mod".to_string()) && missing.contains(&"cmd/tools/dsql".to_string()),
            "{missing:?}"
        );
    }
}
