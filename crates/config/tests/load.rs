use std::path::Path;

use temporalctl_config::{load, network_layout, parse};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[test]
fn the_shipped_examples_are_valid() {
    let dev = load(&repo("deploy.yaml")).expect("deploy.yaml is valid");
    assert_eq!(dev.project, "temporal-dev");
    let layout = network_layout(&dev).unwrap();
    let private: Vec<String> = layout.private_subnets.iter().map(|(z, c)| format!("{z} {c}")).collect();
    assert_eq!(private, ["eu-west-1a 10.0.0.0/20", "eu-west-1b 10.0.16.0/20"]);
    assert_eq!(layout.public_subnet.1.to_string(), "10.0.255.0/24");

    let prod = load(&repo("docs/examples/production.yaml")).expect("production example is valid");
    assert_eq!(prod.temporal.history_shards, 4096);
    assert_eq!(prod.services.history.count, 4);
}

#[test]
fn a_minimal_file_takes_the_seed_defaults() {
    let d = parse(
        "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
        "mini.yaml",
    )
    .unwrap();
    assert_eq!(d.network.vpc_cidr, "10.0.0.0/16");
    assert_eq!(d.network.interface_endpoints.len(), 8);
    let layout = network_layout(&d).unwrap();
    assert_eq!(layout.private_subnets[1].0, "us-east-1b");
}

#[test]
fn every_problem_is_reported_at_once_with_path_and_position() {
    let src = "\
version: 1
project: Bad_Name
region: us-east-1
regoin: x
network:
  vpc_cidr: 10.0.0.0/16
  availability_zones: [us-east-1a, us-east-1a, eu-west-1c]
  public_subnet_cidr: 10.0.0.0/24
  s3_gateway: true
logs:
  retention_days: 10
";
    let err = parse(src, "bad.yaml").unwrap_err();
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn a_type_error_names_its_field_and_line() {
    let err = parse("version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\nservices:\n  history:\n    cpu: lots\n", "t.yaml")
        .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "services.history.cpu");
    assert_eq!(p.at.map(|a| a.line), Some(8));
}

#[test]
fn broken_yaml_is_a_problem_not_a_panic() {
    let err = parse("version: 1\nproject: [unclosed\n", "y.yaml").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].at.is_some(), "{err}");
}

/// Both names enter scripts and the server's YAML: anything but plain names is refused
/// before any AWS call (the scripts quote them too).
#[test]
fn a_namespace_or_index_name_that_is_not_a_plain_name_is_refused_naming_the_field() {
    for (namespace, index) in
        [("x\"; rm -rf /; \"", "ok"), ("default", "Temporal_Visibility"), ("$(id)", "{{ .Env.X }}")]
    {
        let src = format!(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n  namespace:\n    name: '{namespace}'\nopensearch:\n  visibility_index: '{index}'\n"
        );
        let text = parse(&src, "deploy.yaml").unwrap_err().to_string();
        let bad_namespace = namespace != "default";
        assert_eq!(text.contains("temporal.namespace.name"), bad_namespace, "{text}");
        assert_eq!(text.contains("opensearch.visibility_index"), index != "ok", "{text}");
    }
    for (namespace, index) in [("default", "temporal_visibility_v1_dev"), ("team-a.prod_1", "visibility-2")] {
        let src = format!(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n  namespace:\n    name: {namespace}\nopensearch:\n  visibility_index: {index}\n"
        );
        assert!(parse(&src, "deploy.yaml").is_ok(), "{namespace} / {index}");
    }
}

/// Issue 19: a file over 1 MiB is refused before it is parsed, and no more of it is read.
#[test]
fn a_file_over_a_mebibyte_is_refused_before_it_is_parsed() {
    let valid = "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n";
    let padded = |bytes: usize| format!("{valid}#{}\n", "x".repeat(bytes - valid.len() - 2));
    let limit = temporalctl_config::MAX_FILE_BYTES;
    assert!(parse(&padded(limit), "big.yaml").is_ok(), "exactly the limit still loads");
    let text = parse(&padded(limit + 1), "big.yaml").unwrap_err().to_string();
    assert!(text.contains("over 1024 KiB"), "{text}");
    let path = std::env::temp_dir().join(format!("temporalctl-big-{}.yaml", std::process::id()));
    // Cut inside a multi-byte character at the limit: still the size, not "invalid UTF-8".
    std::fs::write(&path, format!("{}{}", padded(limit), "é".repeat(limit))).unwrap();
    let text = load(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(text.contains("over 1024 KiB"), "{text}");
}

#[test]
fn a_project_name_ecs_reserves_is_refused_with_the_reason() {
    let err = parse(
        "version: 1\nproject: ecs-prod\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
        "p.yaml",
    )
    .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "project");
    assert!(p.message.contains("capacity providers"), "{p:?}");
    assert!(
        parse(
            "version: 1\nproject: prod-ecs\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "p.yaml"
        )
        .is_ok()
    );
}

#[test]
fn a_region_without_dsql_is_refused_unless_the_check_is_turned_off() {
    let err = parse(
        "version: 1\nproject: demo\nregion: us-west-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
        "r.yaml",
    )
    .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "region");
    assert!(p.message.contains("DSQL") && p.message.contains("region_check"), "{p:?}");
    assert!(parse("version: 1\nproject: demo\nregion: us-west-1\ntemporal:\n  authorization: { allow_no_auth: true }\ndsql:\n  region_check: false\n", "r.yaml").is_ok());
}

#[test]
fn tasks_that_no_node_group_can_hold_are_refused_with_the_fix() {
    let yaml = "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\nservices:\n  history: { cpu: 512, memory: 1024, count: 9, node_group: a }\n";
    let err = parse(yaml, "c.yaml").unwrap_err();
    assert_eq!(err.problems[0].path, "node_groups.a.max_size");
    let yaml = "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\nservices:\n  history: { cpu: 4096, memory: 1024, node_group: a }\n";
    let err = parse(yaml, "c.yaml").unwrap_err();
    assert!(err.problems.iter().any(|p| p.path == "services.history"), "{err}");
}
