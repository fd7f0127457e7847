//! Issue 6: bad input, state trouble, secrets and injected faults, each through the real
//! binary against moto and the recording proxy. docs/reliability.md lists what each test
//! proves.

mod support;

use std::path::Path;

use support::{Harness, block_on};
use temporalctl_proxy::Faults;

const PROJECT: &str = "itrel";

fn deploy() -> String {
    format!("version: 1\nproject: {PROJECT}\nregion: us-east-1\n")
}

/// `tests/bad-configs/*.yaml`: each starts with `# expect: <text>`, the field path (or
/// location) its error must name.
fn bad_configs() -> Vec<(String, String, String)> {
    let dir = support::repo().join("tests/bad-configs");
    let mut cases: Vec<(String, String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: the first line must be `# expect: <field path>`", p.display()));
            (p.file_stem().unwrap().to_string_lossy().into_owned(), expect.to_string(), text.clone())
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_broken_deploy_yaml_exits_2_naming_the_field_and_sends_nothing() {
    let cases = bad_configs();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let h = Harness::new("rel-bad", &deploy());
    let mut failures = Vec::new();
    for (name, expect, text) in &cases {
        std::fs::write(h.dir.join("deploy.yaml"), text).unwrap();
        for verb in [&["up"][..], &["plan"], &["down", "--yes"], &["scale", "up", "--count", "2"]] {
            let run = h.run(verb);
            if run.code != 2 || !run.stderr.contains(expect.as_str()) {
                failures
                    .push(format!("{name} ({}): exit {}, wanted 2 and {expect:?}:\n{}", verb[0], run.code, run.stderr));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(h.proxy.calls().len(), 0, "bad input never reaches AWS: {:?}", h.proxy.operations());
}

#[test]
fn state_trouble_is_explained_and_touches_nothing() {
    let h = Harness::new("rel-state", &deploy());
    let state = h.state_path(PROJECT);
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();

    // Truncated mid-write by something other than temporalctl (it writes by rename).
    std::fs::write(&state, r#"{"format-version": 1, "project": "itrel", "nod"#).unwrap();
    let run = h.run(&["up"]).code(2);
    let name = state.file_name().unwrap().to_string_lossy().to_string();
    assert!(run.stderr.contains(&name) && run.stderr.contains(&format!("{name}.bak")), "{}", run.stderr);

    // Written by a newer temporalctl.
    std::fs::write(&state, r#"{"format-version": 99, "project": "itrel", "nodes": {}}"#).unwrap();
    let run = h.run(&["plan"]).code(2);
    assert!(run.stderr.contains("newer temporalctl"), "{}", run.stderr);

    assert_eq!(h.proxy.calls().len(), 0, "{:?}", h.proxy.operations());
}

/// Every file under `dir`, as text (binary files lossily).
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(texts_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

#[test]
fn the_grafana_password_appears_nowhere_even_with_verbose_logging() {
    let h = Harness::new("rel-secret", &deploy());
    let mut printed = String::new();
    for verb in [&["-v", "up"][..], &["-vv", "status"], &["-vv", "status", "--output", "json"], &["-v", "plan"]] {
        let run = h.run(verb).ok();
        printed.push_str(&run.stdout);
        printed.push_str(&run.stderr);
    }
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    let secret = block_on(sm.get_secret_value().secret_id(format!("{PROJECT}/grafana-admin")).send()).unwrap();
    let value: serde_json::Value = serde_json::from_str(secret.secret_string().unwrap()).unwrap();
    let password = value["admin_password"].as_str().unwrap().to_string();
    assert!(password.len() >= 16);
    let run = h.run(&["-vv", "down", "--yes", "--destroy-data"]).ok();
    printed.push_str(&run.stdout);
    printed.push_str(&run.stderr);
    assert!(printed.len() > 10_000, "verbose output was produced: {} bytes", printed.len());
    assert!(!printed.contains(&password), "the password was printed");
    for (file, text) in texts_under(&h.dir) {
        assert!(!text.contains(&password), "the password is in {file}");
    }
}

/// Resources still carrying our project tag, by kind (EC2 by tag filter; ECS clusters and
/// IAM roles by name, as they are named after the project).
fn tagged_leftovers(h: &Harness) -> Vec<String> {
    let ec2 = h.ec2();
    let ours = || aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build();
    block_on(async {
        let mut left = Vec::new();
        let vpcs = ec2.describe_vpcs().filters(ours()).send().await.unwrap();
        left.extend(vpcs.vpcs().iter().map(|v| format!("vpc {}", v.vpc_id().unwrap_or_default())));
        let subnets = ec2.describe_subnets().filters(ours()).send().await.unwrap();
        left.extend(subnets.subnets().iter().map(|s| format!("subnet {}", s.subnet_id().unwrap_or_default())));
        let groups = ec2.describe_security_groups().filters(ours()).send().await.unwrap();
        left.extend(groups.security_groups().iter().map(|g| format!("sg {}", g.group_id().unwrap_or_default())));
        let asg = aws_sdk_autoscaling::Client::new(&h.sdk());
        let groups = asg.describe_auto_scaling_groups().send().await.unwrap();
        left.extend(
            groups
                .auto_scaling_groups()
                .iter()
                .map(|g| format!("asg {}", g.auto_scaling_group_name().unwrap_or_default())),
        );
        let ecs = aws_sdk_ecs::Client::new(&h.sdk());
        let clusters = ecs.list_clusters().send().await.unwrap();
        if !clusters.cluster_arns().is_empty() {
            let described =
                ecs.describe_clusters().set_clusters(Some(clusters.cluster_arns().to_vec())).send().await.unwrap();
            left.extend(
                described
                    .clusters()
                    .iter()
                    .filter(|c| c.status() == Some("ACTIVE"))
                    .map(|c| format!("cluster {}", c.cluster_name().unwrap_or_default())),
            );
        }
        let iam = aws_sdk_iam::Client::new(&h.sdk());
        let roles = iam.list_roles().send().await.unwrap();
        left.extend(
            roles
                .roles()
                .iter()
                .filter(|r| r.role_name().starts_with(PROJECT))
                .map(|r| format!("role {}", r.role_name())),
        );
        left
    })
}

#[test]
fn up_and_down_succeed_under_thirty_percent_throttling_in_every_protocol() {
    let h = Harness::new("rel-throttle", &deploy());
    h.proxy.faults(Some(Faults { share: 0.3, seed: 0x7e57 }));
    h.run(&["up"]).ok();
    let up_faults = h.proxy.faults_injected();

    // Faults on every protocol the stack speaks: EC2 query, other query (IAM, Auto
    // Scaling), JSON (ECS, Logs…) and REST-JSON (OpenSearch, DSQL, AMP).
    let calls = h.proxy.calls();
    let failed_in = |service: &str| calls.iter().filter(|c| c.service == service && c.status >= 400).count();
    for service in ["ec2", "iam", "autoscaling", "ecs", "logs", "es", "dsql", "aps"] {
        assert!(failed_in(service) > 0, "no fault reached {service}");
    }

    // Converged: with the faults off, a second up has nothing to do, and nothing is doubled.
    h.proxy.faults(None);
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(
        h.proxy.mutating().len(),
        0,
        "{:?}",
        h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    let left = tagged_leftovers(&h);
    let count = |kind: &str| left.iter().filter(|l| l.starts_with(&format!("{kind} "))).count();
    assert_eq!((count("vpc"), count("subnet"), count("asg"), count("cluster")), (1, 3, 3, 1), "{left:?}");
    assert_eq!(count("role"), 9, "{left:?}");

    h.proxy.faults(Some(Faults { share: 0.3, seed: 0xd0e5 }));
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    let all_faults = h.proxy.faults_injected();
    h.proxy.faults(None);
    assert!(
        up_faults >= 50 && all_faults - up_faults >= 30,
        "faults injected: up {up_faults}, down {}",
        all_faults - up_faults
    );
    assert_eq!(tagged_leftovers(&h), Vec::<String>::new(), "after down --destroy-data nothing of ours is left");
    eprintln!("faults injected: up {up_faults}, down {}", all_faults - up_faults);
}
