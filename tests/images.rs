//! `images build`, `images` and `up`'s image check through the real binary: stand-in
//! `go` and `docker` that record their arguments, the emulator's ECR receiving the push.

mod support;

use support::images::Toolbox;
use support::{Harness, block_on};

const PROJECT: &str = "itimg";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  version: 1.29.1\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn images_build_creates_immutable_repositories_compiles_for_arm64_logs_in_on_stdin_and_pushes_one_tag_with_the_revision()
 {
    let h = Harness::without_images("images-build", &deploy());
    let tools = Toolbox::install(&h.dir.join("tools"));
    let fork = tools.fork();
    git(&fork, &["init", "-q"]);
    git(&fork, &["add", "."]);
    git(&fork, &["commit", "-q", "-m", "fork"]);
    let revision = git(&fork, &["rev-parse", "--short=12", "HEAD"]);
    let source = fork.to_string_lossy();
    let run = h.run_with_path(&["images", "build", "--source", &source], &tools.path()).ok();

    // The repositories are the graph's own nodes: created once, tagged, recorded, and
    // their tags immutable.
    let ops = h.proxy.operations();
    assert_eq!(ops.iter().filter(|o| *o == "CreateRepository").count(), 2, "{ops:?}");
    for create in h.sent("CreateRepository") {
        assert_eq!(create["imageTagMutability"], "IMMUTABLE", "{create}");
    }
    let state = h.state(PROJECT);
    for node in ["ecr-repository/server", "ecr-repository/admin-tools"] {
        assert!(state["nodes"][node]["outputs"]["uri"].as_str().is_some(), "{node} recorded: {state:#}");
    }

    // Every binary the Dockerfiles copy, static linux/arm64, from the fork's packages.
    let builds: Vec<serde_json::Value> =
        tools.calls().into_iter().filter(|c| c["tool"] == "go" && c["args"][0] == "build").collect();
    let packages: Vec<&str> =
        builds.iter().map(|c| c["args"].as_array().unwrap().last().unwrap().as_str().unwrap()).collect();
    assert_eq!(
        packages,
        [
            "./cmd/server",
            "./cmd/tools/cassandra",
            "./cmd/tools/sql",
            "./cmd/tools/elasticsearch",
            "./cmd/tools/tdbg",
            "./cmd/tools/dsql"
        ]
    );
    for c in &builds {
        assert_eq!(c["env"], serde_json::json!({"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0"}), "{c}");
    }
    assert_eq!(
        tools.argv("go", &["install"]),
        [["install", "-trimpath", "github.com/temporalio/cli/cmd/temporal@v1.5.1"]]
    );

    // The ECR password reached docker on stdin only: never an argument, never printed.
    let ecr = aws_sdk_ecr::Client::new(&h.sdk());
    let token = block_on(ecr.get_authorization_token().send()).unwrap();
    let data = &token.authorization_data()[0];
    let decoded = aws_smithy_types::base64::decode(data.authorization_token().unwrap()).unwrap();
    let password = String::from_utf8(decoded).unwrap().split_once(':').unwrap().1.to_string();
    assert_eq!(tools.login_stdin().as_deref(), Some(password.as_str()));
    let logins = tools.argv("docker", &["login"]);
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0][..4], ["login", "--username", "AWS", "--password-stdin"]);
    let everything = format!("{:?}{}{}", tools.calls(), run.stdout, run.stderr);
    assert!(!everything.contains(&password), "the registry password leaked: {everything}");

    // Both images for arm64 with the one version tag, the revision as a label, pushed;
    // the admin tools with the DSQL tool.
    let pushes = tools.argv("docker", &["buildx", "build"]);
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    for push in &pushes {
        let joined = push.join(" ");
        assert!(joined.contains("--platform linux/arm64") && joined.contains("--push"), "{joined}");
        let tags: Vec<&String> = push.windows(2).filter(|w| w[0] == "--tag").map(|w| &w[1]).collect();
        assert!(tags.len() == 1 && tags[0].ends_with(":1.29.1"), "one tag in {joined}");
        assert!(joined.contains(&format!("--label org.opencontainers.image.revision={revision}")), "{joined}");
    }
    let admin_dockerfile =
        std::fs::read_to_string(fork.join("docker/build/admin-tools.temporalctl.Dockerfile")).unwrap();
    assert!(admin_dockerfile.contains("./build/arm64/temporal-dsql-tool"), "{admin_dockerfile}");
    assert!(fork.join("docker/build/temporal/schema/dsql/v12/temporal/schema.sql").exists());

    // ECR has them where `up` looks; `images` says so.
    for repo in ["temporal-server", "temporal-admin-tools"] {
        let images = block_on(ecr.describe_images().repository_name(format!("{PROJECT}/{repo}")).send()).unwrap();
        let tags: Vec<&str> = images.image_details().iter().flat_map(|i| i.image_tags()).map(String::as_str).collect();
        assert_eq!(tags, ["1.29.1"], "{repo}");
    }
    assert!(run.stdout.contains("tagged 1.29.1 in"), "{}", run.stdout);
    let status = h.run(&["images"]).ok();
    assert!(status.stdout.contains(&format!("{PROJECT}/temporal-server:1.29.1")), "{}", status.stdout);
    assert!(status.stdout.contains("present  sha256:"), "{}", status.stdout);
    // A public image is pinned by its registry's answer.
    let ui = status.stdout.lines().find(|l| l.contains("temporalio/ui:2.42.1")).unwrap_or_default();
    let ui_digest = support::public_digest(temporalctl_config::UI_IMAGE);
    assert!(ui.contains(&format!("present  {}  [ui]", &ui_digest[..19])), "{}", status.stdout);

    // A second build adopts the repositories and, the tag being taken, builds nothing.
    h.proxy.clear();
    let again = h.run_with_path(&["images", "build", "--source", &source], &tools.path()).ok();
    assert!(!h.proxy.operations().iter().any(|o| o == "CreateRepository"), "{:?}", h.proxy.operations());
    assert!(again.stdout.contains("nothing to build; both images of 1.29.1 are in ECR"), "{}", again.stdout);
    assert!(
        again.stdout.contains(&format!("{PROJECT}/temporal-server:1.29.1 is already in ECR (sha256:")),
        "{}",
        again.stdout
    );
    assert_eq!(tools.argv("docker", &["buildx", "build"]).len(), 2, "no third push");
}

#[test]
fn up_without_the_images_stops_before_any_change_naming_each_image_and_the_command() {
    let h = Harness::without_images("images-missing", &deploy());
    let up = h.run(&["up"]).code(1);
    for image in ["itimg/temporal-server:1.29.1", "itimg/temporal-admin-tools:1.29.1"] {
        assert!(up.stderr.contains(&format!("image {image} is not in ECR")), "{}", up.stderr);
    }
    assert!(
        up.stderr.contains("history, matching, frontend, internal_frontend, worker start from it"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains("temporalctl images build --source <checkout of the temporal-dsql fork>"),
        "{}",
        up.stderr
    );
    assert!(h.proxy.mutating().is_empty(), "nothing was changed: {:?}", h.proxy.operations());

    // `plan` shows the same as a note and still plans; `images` exits 1.
    let plan = h.run(&["plan"]).ok();
    assert!(
        plan.stderr.contains("note: `up` stops before any change until this is fixed: image itimg/temporal-server"),
        "{}",
        plan.stderr
    );
    let images = h.run(&["images", "--output", "json"]).code(1);
    let doc: serde_json::Value = serde_json::from_str(&images.stdout).unwrap();
    let server =
        doc["images"].as_array().unwrap().iter().find(|i| i["image"] == "itimg/temporal-server:1.29.1").unwrap();
    assert_eq!(server["state"], "missing", "{server}");
    assert_eq!(server["reason"], "repository itimg/temporal-server does not exist", "{server}");

    // With the images pushed the same `up` goes through.
    let (built, _) = h.build_images();
    built.ok();
    h.run(&["up"]).ok();
}

#[test]
fn images_build_names_what_is_missing_before_any_aws_call() {
    let h = Harness::without_images("images-refused", &deploy());
    // Not a checkout of the fork: exit 2, every missing part named.
    let empty = h.dir.join("not-a-fork");
    std::fs::create_dir_all(&empty).unwrap();
    let wrong = h.run(&["images", "build", "--source", &empty.to_string_lossy()]).code(2);
    assert!(
        wrong.stderr.contains("not a checkout of the temporal-dsql fork") && wrong.stderr.contains("cmd/tools/dsql"),
        "{}",
        wrong.stderr
    );

    // No go, no docker on PATH: both named with what to install.
    let tools = Toolbox::install(&h.dir.join("tools"));
    let fork = tools.fork();
    let source = fork.to_string_lossy();
    let bare =
        h.run_with_path(&["images", "build", "--source", &source], &h.dir.join("empty-bin").to_string_lossy()).code(1);
    assert!(bare.stderr.contains("install Go 1.21 or newer"), "{}", bare.stderr);
    assert!(bare.stderr.contains("install Docker Engine"), "{}", bare.stderr);

    // Docker without buildx.
    std::fs::write(tools.home.join("no-buildx"), "").unwrap();
    let no_buildx = h.run_with_path(&["images", "build", "--source", &source], &tools.path()).code(1);
    assert!(no_buildx.stderr.contains("install the Buildx plugin"), "{}", no_buildx.stderr);
    assert!(!no_buildx.stderr.contains("install Go"), "{}", no_buildx.stderr);
    assert!(h.proxy.calls().is_empty(), "{:?}", h.proxy.operations());
}

#[test]
fn up_registers_every_task_definition_by_digest_and_a_moved_tag_is_a_planned_change() {
    let h = Harness::new("images-pinned", &deploy());
    h.run(&["up"]).ok();

    // Every task definition names its image by digest: ECR's for ours, the registry's
    // for the public ones.
    let ecr = aws_sdk_ecr::Client::new(&h.sdk());
    let described = block_on(ecr.describe_images().repository_name(format!("{PROJECT}/temporal-server")).send());
    let server_digest = described.unwrap().image_details()[0].image_digest().unwrap().to_string();
    let images: std::collections::BTreeMap<String, String> = h
        .sent("RegisterTaskDefinition")
        .iter()
        .map(|r| {
            (r["family"].as_str().unwrap().to_string(), r["containerDefinitions"][0]["image"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(images.len(), 9, "{images:#?}");
    for (family, image) in &images {
        let (_, digest) = image.split_once('@').unwrap_or_else(|| panic!("{family} names {image} by tag"));
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{family}: {image}");
    }
    assert!(
        images[&format!("{PROJECT}-temporal-history")]
            .ends_with(&format!("/{PROJECT}/temporal-server@{server_digest}"))
    );
    let ui_digest = support::public_digest(temporalctl_config::UI_IMAGE);
    assert_eq!(images[&format!("{PROJECT}-temporal-ui")], format!("temporalio/ui@{ui_digest}"));
    let state = h.state(PROJECT);
    assert_eq!(state["images"][temporalctl_config::UI_IMAGE], ui_digest.as_str(), "{state:#}");
    assert_eq!(state["images"][format!("{PROJECT}/temporal-server:1.29.1")], server_digest.as_str());

    // `status` compares with what was pinned and asks no registry.
    let asked = h.registry.requests().len();
    let status = h.run(&["status", "--output", "json"]).ok();
    assert_eq!(h.registry.requests().len(), asked, "status asked a registry");
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let task_definitions: Vec<&serde_json::Value> = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["node"].as_str().unwrap().starts_with("task-definition/"))
        .collect();
    assert_eq!(task_definitions.len(), 9);
    assert!(task_definitions.iter().all(|r| r["state"] == "ok"), "{task_definitions:#?}");

    // The publisher moves the tag: `plan` shows the ui's task definition (and only it) as
    // a change, and the next `up` registers the new digest.
    let moved = temporalctl_proxy::registry::digest_of("ui moved");
    h.registry.set("temporalio/ui", "2.42.1", &moved);
    let plan = h.run(&["plan", "--output", "json"]).ok();
    let planned: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changed: Vec<&str> = planned["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-change")
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"task-definition/ui"), "{changed:?}");
    assert!(changed.iter().all(|n| !n.starts_with("task-definition/") || *n == "task-definition/ui"), "{changed:?}");
    let ui = planned["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "task-definition/ui").unwrap();
    let image = ui["diffs"].as_array().unwrap().iter().find(|d| d["field"] == "image").unwrap();
    assert_eq!(image["from"], format!("temporalio/ui@{ui_digest}"), "{ui}");
    assert_eq!(image["to"], format!("temporalio/ui@{moved}"), "{ui}");
    let text = h.run(&["plan"]).ok();
    assert!(text.stdout.contains(&format!("temporalio/ui@{moved}")), "{}", text.stdout);
    h.proxy.clear();
    h.run(&["up"]).ok();
    let registered: Vec<String> = h
        .sent("RegisterTaskDefinition")
        .iter()
        .map(|r| r["containerDefinitions"][0]["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(registered, [format!("temporalio/ui@{moved}")]);
}

#[test]
fn a_public_tag_that_does_not_exist_stops_up_before_any_change_naming_the_field() {
    let yaml = format!(
        "{}services:\n  ui: {{ cpu: 256, memory: 512, node_group: b, image: \"temporalio/ui:9.9.9\" }}\n",
        deploy()
    );
    let h = Harness::new("images-unknown-tag", &yaml);
    let up = h.run(&["up"]).code(1);
    assert!(
        up.stderr.contains("image temporalio/ui:9.9.9: temporalio/ui:9.9.9 does not exist in docker.io; ui starts from it; name a tag that exists in services.ui.image"),
        "{}",
        up.stderr
    );
    assert!(h.proxy.mutating().is_empty(), "nothing was changed: {:?}", h.proxy.operations());
}
