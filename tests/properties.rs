//! Seed 002's fifteen correctness properties, one named test each, checked on a whole
//! stack built by the real binary: on what the emulator holds where it returns the field,
//! on the request the binary sent where it does not (moto drops `serviceConnectConfiguration`,
//! `enableExecuteCommand`, placement and capacity provider strategy from `CreateService`).

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{Harness, block_on};

const PROJECT: &str = "itprop";

const TEMPORAL: [&str; 5] = ["history", "matching", "frontend", "internal_frontend", "worker"];
/// A Temporal service's task definition family (and container): `temporal-internal-frontend`.
fn family_of(key: &str) -> String {
    format!("temporal-{}", key.replace('_', "-"))
}

const FAMILIES: [&str; 8] = [
    "temporal-history",
    "temporal-matching",
    "temporal-frontend",
    "temporal-internal-frontend",
    "temporal-worker",
    "temporal-ui",
    "grafana",
    "adot-collector",
];

/// A fresh emulator with the whole default stack built on it.
fn stack(name: &str) -> Harness {
    let h = Harness::new(
        name,
        &format!(
            "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
        ),
    );
    h.run(&["up"]).ok();
    h
}

/// `CreateService` requests by service name.
fn created_services(h: &Harness) -> BTreeMap<String, Value> {
    h.sent("CreateService").into_iter().map(|b| (b["serviceName"].as_str().unwrap().to_string(), b)).collect()
}

fn task_definition(h: &Harness, family: &str) -> aws_sdk_ecs::types::TaskDefinition {
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    block_on(ecs.describe_task_definition().task_definition(format!("{PROJECT}-{family}")).send())
        .unwrap()
        .task_definition
        .unwrap()
}

fn ours() -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build()
}

fn launch_template_data(h: &Harness) -> Vec<aws_sdk_ec2::types::ResponseLaunchTemplateData> {
    let ec2 = h.ec2();
    let templates = block_on(ec2.describe_launch_templates().filters(ours()).send()).unwrap();
    assert_eq!(templates.launch_templates().len(), 3, "one launch template per node group");
    templates
        .launch_templates()
        .iter()
        .map(|t| {
            let v = block_on(
                ec2.describe_launch_template_versions()
                    .launch_template_id(t.launch_template_id().unwrap())
                    .versions("$Latest")
                    .send(),
            )
            .unwrap();
            v.launch_template_versions()[0].launch_template_data().unwrap().clone()
        })
        .collect()
}

#[test]
fn property_01_private_only_networking() {
    let h = stack("p01");
    let ec2 = h.ec2();
    let groups = block_on(ec2.describe_security_groups().filters(ours()).send()).unwrap();
    for g in groups.security_groups() {
        for p in g.ip_permissions() {
            assert!(p.ip_ranges().iter().all(|r| r.cidr_ip() != Some("0.0.0.0/0")), "{:?}", g.group_name());
            assert!(p.ipv6_ranges().iter().all(|r| r.cidr_ipv6() != Some("::/0")), "{:?}", g.group_name());
        }
    }
    for data in launch_template_data(&h) {
        for ni in data.network_interfaces() {
            assert_eq!(ni.associate_public_ip_address(), Some(false));
        }
    }
    // The instances the node groups launched have no public address.
    let instances = block_on(ec2.describe_instances().filters(ours()).send()).unwrap();
    let all: Vec<_> = instances.reservations().iter().flat_map(|r| r.instances()).collect();
    assert_eq!(all.len(), 3, "one instance per node group");
    for i in all {
        assert_eq!(i.public_ip_address(), None, "{:?}", i.instance_id());
    }
    // Tasks: awsvpc in the private subnets, never a public IP.
    for (name, body) in created_services(&h) {
        let vpc = &body["networkConfiguration"]["awsvpcConfiguration"];
        assert_ne!(vpc["assignPublicIp"], "ENABLED", "{name}");
        assert_eq!(vpc["subnets"].as_array().unwrap().len(), 2, "{name}");
    }
}

#[test]
fn property_02_graviton_architecture() {
    let h = stack("p02");
    for family in FAMILIES {
        let td = task_definition(&h, family);
        assert_eq!(td.runtime_platform().and_then(|r| r.cpu_architecture()).map(|a| a.as_str()), Some("ARM64"));
    }
    let ec2 = h.ec2();
    for data in launch_template_data(&h) {
        let instance_type = data.instance_type().unwrap().as_str().to_string();
        assert!(instance_type.starts_with("m7g."), "{instance_type} is not Graviton");
        let image = block_on(ec2.describe_images().image_ids(data.image_id().unwrap()).send()).unwrap();
        assert_eq!(image.images()[0].architecture().map(|a| a.as_str()), Some("arm64"));
    }
}

#[test]
fn property_03_ecs_exec_enabled() {
    let h = stack("p03");
    let services = created_services(&h);
    assert_eq!(services.len(), 8);
    // Issue 19: Exec only where it is needed — by default the services `connect`
    // forwards to — and always where deploy.yaml asks (docs/security.md).
    let reachable: Vec<&str> = services
        .iter()
        .filter(|(_, body)| body["enableExecuteCommand"] == true)
        .map(|(name, _)| name.trim_start_matches(&format!("{PROJECT}-")))
        .collect();
    assert_eq!(reachable, ["grafana", "temporal-frontend", "temporal-ui"]);
    for family in FAMILIES {
        let td = task_definition(&h, family);
        let c = &td.container_definitions()[0];
        assert_eq!(c.linux_parameters().and_then(|l| l.init_process_enabled()), Some(true), "{family}");
    }
    // Exec sessions are logged to the stack's own log group.
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let cluster = block_on(
        ecs.describe_clusters()
            .clusters(format!("{PROJECT}-cluster"))
            .include(aws_sdk_ecs::types::ClusterField::Configurations)
            .send(),
    )
    .unwrap();
    let exec = cluster.clusters()[0].configuration().unwrap().execute_command_configuration().unwrap();
    assert_eq!(
        exec.log_configuration().and_then(|l| l.cloud_watch_log_group_name()),
        Some(format!("/ecs/{PROJECT}/ecs-exec").as_str())
    );
}

#[test]
fn property_04_vpc_endpoint_completeness() {
    let h = stack("p04");
    let ec2 = h.ec2();
    let eps = block_on(ec2.describe_vpc_endpoints().filters(ours()).send()).unwrap();
    let endpoints_sg = h.state(PROJECT)["nodes"]["security-group/vpc-endpoints"]["id"].as_str().unwrap().to_string();
    let by_service: BTreeMap<&str, &aws_sdk_ec2::types::VpcEndpoint> =
        eps.vpc_endpoints().iter().map(|e| (e.service_name().unwrap(), e)).collect();
    for suffix in
        ["ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages", "ec2messages", "secretsmanager", "aps-workspaces"]
    {
        let e = by_service[format!("com.amazonaws.us-east-1.{suffix}").as_str()];
        let groups: Vec<&str> = e.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, [endpoints_sg.as_str()], "{suffix}");
        assert_eq!(e.subnet_ids().len(), 2, "{suffix} in both private subnets");
    }
    let s3 = by_service["com.amazonaws.us-east-1.s3"];
    assert_eq!(s3.vpc_endpoint_type().map(|t| t.as_str()), Some("Gateway"));
    assert_eq!(s3.route_table_ids().len(), 1);
}

#[test]
fn property_05_cloudwatch_logs() {
    let h = stack("p05");
    for family in FAMILIES {
        let td = task_definition(&h, family);
        let log = td.container_definitions()[0].log_configuration().unwrap();
        assert_eq!(log.log_driver().as_str(), "awslogs");
        let options = log.options().unwrap();
        // The graph creates and owns every group (retention, tags); containers never do,
        // so the option (which needs logs:CreateLogGroup) is absent.
        assert!(!options.contains_key("awslogs-create-group"), "{family}");
        assert_eq!(options["awslogs-stream-prefix"], family);
        assert_eq!(options["awslogs-group"], format!("/ecs/{PROJECT}/{family}"));
    }
}

#[test]
fn property_06_secrets_through_secrets_manager() {
    let h = stack("p06");
    let grafana = task_definition(&h, "grafana");
    let c = &grafana.container_definitions()[0];
    let secret = c.secrets().iter().find(|s| s.name() == "GF_SECURITY_ADMIN_PASSWORD").unwrap();
    assert!(secret.value_from().contains(&format!(":secret:{PROJECT}/grafana-admin")), "{}", secret.value_from());
    for family in FAMILIES {
        let td = task_definition(&h, family);
        for e in td.container_definitions()[0].environment() {
            let name = e.name().unwrap_or_default().to_uppercase();
            assert!(!name.contains("PASSWORD") && !name.contains("SECRET"), "{family}: {name}");
        }
    }
    // DSQL uses IAM auth: the Temporal services carry no database secret; their only
    // secrets are their TLS certificates, from the certificates' secret.
    for k in TEMPORAL {
        let td = task_definition(&h, &family_of(k));
        for s in td.container_definitions()[0].secrets() {
            assert!(s.name().starts_with("TEMPORALCTL_TLS_"), "{k}: {}", s.name());
            let from = s.value_from();
            assert!(
                from.contains(&format!(":secret:{PROJECT}/temporal-tls-")) && !from.contains("temporal-tls-authority"),
                "{k}: {from}"
            );
        }
    }
    // Issue 19: the cluster that holds the data is made with deletion protection on, and
    // DSQL reports it so (a `down` without --destroy-data can then never lose it).
    let created: Vec<Value> = h
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "dsql" && c.operation == "POST /cluster")
        .map(|c| serde_json::from_str(&c.body).unwrap())
        .collect();
    assert_eq!(created.len(), 1, "one DSQL CreateCluster (REST: POST /cluster)");
    assert_eq!(created[0]["deletionProtectionEnabled"], true, "{created:?}");
    let id = h.state(PROJECT)["nodes"]["dsql-cluster"]["id"].as_str().unwrap().to_string();
    let dsql = aws_sdk_dsql::Client::new(&h.sdk());
    assert!(block_on(dsql.get_cluster().identifier(id).send()).unwrap().deletion_protection_enabled());
}

#[test]
fn property_07_iam_least_privilege() {
    let h = stack("p07");
    let iam = aws_sdk_iam::Client::new(&h.sdk());
    let roles = block_on(iam.list_roles().send()).unwrap();
    let ours: Vec<&str> =
        roles.roles().iter().map(|r| r.role_name()).filter(|n| n.starts_with(&format!("{PROJECT}-"))).collect();
    assert_eq!(ours.len(), 12, "execution, two instance roles, eight task roles and the one-off tasks' role: {ours:?}");
    // Issue 19: no host shell and no account-wide agent policy unless a group asks.
    for role in &ours {
        let attached = block_on(iam.list_attached_role_policies().role_name(*role).send()).unwrap();
        let attached: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_name()).collect();
        assert!(
            !attached
                .iter()
                .any(|p| *p == "AmazonSSMManagedInstanceCore" || *p == "AmazonEC2ContainerServiceforEC2Role"),
            "{role}: {attached:?}"
        );
    }
    let state = h.state(PROJECT);
    let dsql_arn = state["nodes"]["dsql-cluster"]["outputs"]["arn"].as_str().unwrap();
    let workspace_arn = state["nodes"]["prometheus-workspace"]["outputs"]["arn"].as_str().unwrap();
    for role in ours {
        let names = block_on(iam.list_role_policies().role_name(role).send()).unwrap();
        for name in names.policy_names() {
            let doc = block_on(iam.get_role_policy().role_name(role).policy_name(name).send()).unwrap();
            let doc: Value =
                serde_json::from_str(&temporalctl_aws::iam::canonical_policy(doc.policy_document())).unwrap();
            for st in doc["Statement"].as_array().unwrap() {
                let actions: Vec<&str> = match &st["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    v => v.as_array().unwrap().iter().filter_map(Value::as_str).collect(),
                };
                assert!(actions.iter().all(|a| !a.contains('*')), "{role}: wildcard action {actions:?}");
                // `*` held to our cluster by ECS's `ecs:cluster` condition is scoped all the same.
                let cluster = st["Condition"]["ArnEquals"]["ecs:cluster"].as_str().unwrap_or_default();
                let scoped = cluster.ends_with(&format!(":cluster/{PROJECT}-cluster"));
                if st["Resource"] == "*" && !scoped {
                    for a in &actions {
                        assert!(
                            temporalctl_aws::documents::iam::WILDCARD_EXCEPTIONS.contains(a),
                            "{role}: {a} on * without a reason"
                        );
                    }
                }
                let resources = st["Resource"].to_string();
                if actions.contains(&"dsql:DbConnectAdmin") {
                    assert_eq!(st["Resource"], serde_json::json!([dsql_arn]), "{role}");
                }
                if actions.contains(&"aps:RemoteWrite") {
                    assert_eq!(st["Resource"], serde_json::json!([workspace_arn]), "{role}");
                    assert!(role.ends_with("-adot-task"), "only ADOT writes metrics, not {role}");
                }
                assert!(!resources.is_empty());
            }
        }
    }
}

#[test]
fn property_08_security_group_isolation() {
    let h = stack("p08");
    let ec2 = h.ec2();
    let groups = block_on(ec2.describe_security_groups().filters(ours()).send()).unwrap();
    let vpc_cidr = "10.0.0.0/16";
    for g in groups.security_groups() {
        let name = g.group_name().unwrap_or_default();
        for p in g.ip_permissions() {
            // Only the endpoints (HTTPS) and the frontend's balancer (7233, for workers:
            // `frontend.clients`, the VPC by default) take a CIDR; the rest name groups.
            let cidrs: Vec<&str> = p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
            if name.ends_with("-vpc-endpoints") {
                assert_eq!(cidrs, [vpc_cidr]);
            } else if name.ends_with("-frontend-balancer") {
                assert_eq!((cidrs, p.from_port(), p.to_port()), (vec![vpc_cidr], Some(7233), Some(7233)));
            } else {
                assert!(cidrs.is_empty(), "{name} admits {cidrs:?}");
                assert!(!p.user_id_group_pairs().is_empty(), "{name}");
            }
        }
        // Egress: within the VPC, and out of it only on the ports a flow needs: HTTPS for
        // AWS APIs, and PostgreSQL (5432) to DSQL from the five Temporal services alone.
        // Least privilege that works: without 5432 Temporal never reaches its store.
        let temporal = TEMPORAL.iter().any(|k| name == format!("{PROJECT}-{k}"));
        let mut out_ports = Vec::new();
        for p in g.ip_permissions_egress() {
            for r in p.ip_ranges() {
                let cidr = r.cidr_ip().unwrap_or_default();
                if cidr == vpc_cidr {
                    continue;
                }
                assert_eq!(cidr, "0.0.0.0/0", "{name}: {p:?}");
                out_ports.push(p.from_port().unwrap_or(-1));
            }
        }
        out_ports.sort();
        let expected: &[i32] = if temporal {
            &[443, 5432]
        } else if name.ends_with("-vpc-endpoints")
            || name.ends_with("-opensearch")
            || name.ends_with("-frontend-balancer")
        {
            // The balancer only forwards to the frontend, inside the VPC.
            &[]
        } else {
            &[443]
        };
        assert_eq!(out_ports, expected, "{name}: egress beyond the VPC");
        if name.ends_with("-vpc-endpoints") || name.ends_with("-opensearch") {
            assert!(g.ip_permissions_egress().is_empty(), "{name}");
        }
    }
}

#[test]
fn property_09_opensearch_development_configuration() {
    let h = stack("p09");
    let os = aws_sdk_opensearch::Client::new(&h.sdk());
    let d = block_on(os.describe_domain().domain_name(format!("{PROJECT}-visibility")).send()).unwrap();
    let d = d.domain_status().unwrap();
    let cluster = d.cluster_config().unwrap();
    assert_eq!(cluster.instance_type().map(|t| t.as_str()), Some("t3.small.search"));
    assert_eq!(cluster.instance_count(), Some(1));
    assert!(d.vpc_options().is_some_and(|v| !v.subnet_ids().is_empty() && !v.security_group_ids().is_empty()));
    assert_eq!(d.encryption_at_rest_options().and_then(|e| e.enabled()), Some(true));
    assert_eq!(d.node_to_node_encryption_options().and_then(|e| e.enabled()), Some(true));
    let endpoint = d.domain_endpoint_options().unwrap();
    assert_eq!(endpoint.enforce_https(), Some(true));
    assert!(endpoint.tls_security_policy().unwrap().as_str().contains("TLS-1-2"));
}

#[test]
fn property_10_temporal_port_mappings() {
    let h = stack("p10");
    let ports = |family: &str| -> Vec<(String, i32)> {
        task_definition(&h, family).container_definitions()[0]
            .port_mappings()
            .iter()
            .map(|p| (p.name().unwrap_or_default().to_string(), p.container_port().unwrap_or_default()))
            .collect()
    };
    let named = |v: &[(&str, i32)]| -> Vec<(String, i32)> { v.iter().map(|(n, p)| (n.to_string(), *p)).collect() };
    assert_eq!(ports("temporal-history"), named(&[("grpc", 7234), ("membership", 6934), ("metrics", 9090)]));
    assert_eq!(ports("temporal-matching"), named(&[("grpc", 7235), ("membership", 6935), ("metrics", 9090)]));
    assert_eq!(ports("temporal-frontend"), named(&[("grpc", 7233), ("membership", 6933), ("metrics", 9090)]));
    assert_eq!(ports("temporal-worker"), named(&[("grpc", 7239), ("membership", 6939), ("metrics", 9090)]));
    assert_eq!(ports("temporal-ui"), named(&[("http", 8080)]));
    // The frontend's health check probes its gRPC port.
    let frontend = task_definition(&h, "temporal-frontend");
    assert!(frontend.container_definitions()[0].health_check().is_some());
}

#[test]
fn property_11_service_connect() {
    let h = stack("p11");
    let sd = aws_sdk_servicediscovery::Client::new(&h.sdk());
    let namespaces = block_on(sd.list_namespaces().send()).unwrap();
    let ns = namespaces.namespaces().iter().find(|n| n.name() == Some(PROJECT)).unwrap();
    assert_eq!(ns.r#type().map(|t| t.as_str()), Some("HTTP"));
    let services = created_services(&h);
    let discoverable = |key: &str| -> Vec<String> {
        let body = &services[&format!("{PROJECT}-temporal-{key}")];
        let sc = &body["serviceConnectConfiguration"];
        assert_eq!(sc["enabled"], true, "{key}");
        assert_eq!(sc["namespace"].as_str(), ns.arn(), "{key}");
        sc["services"]
            .as_array()
            .map(|s| s.iter().map(|s| s["discoveryName"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    for key in ["history", "matching", "frontend"] {
        assert!(discoverable(key).contains(&format!("temporal-{key}")), "{key} is client-server");
    }
    // Client-only: the internal frontend, the worker and the UI publish nothing.
    for key in ["internal-frontend", "worker", "ui"] {
        assert!(discoverable(key).is_empty(), "{key} is a client only");
    }
}

#[test]
fn property_12_separate_task_definitions_and_services() {
    let h = stack("p12");
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let list = block_on(ecs.list_services().cluster(format!("{PROJECT}-cluster")).send()).unwrap();
    let services = block_on(
        ecs.describe_services()
            .cluster(format!("{PROJECT}-cluster"))
            .set_services(Some(list.service_arns().to_vec()))
            .send(),
    )
    .unwrap();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for created in h.sent("CreateService") {
        assert_eq!(created["desiredCount"], 0, "services are created at 0; the scale waves raise them: {created}");
    }
    for s in services.services() {
        assert_eq!(s.desired_count(), 1, "after up's waves: deploy.yaml's count");
        by_name.insert(s.service_name().unwrap().to_string(), s.task_definition().unwrap().to_string());
    }
    for family in FAMILIES {
        let td = task_definition(&h, family);
        assert_eq!(
            by_name.get(&format!("{PROJECT}-{family}")).map(String::as_str),
            td.task_definition_arn(),
            "{family} runs its own task definition"
        );
    }
    let temporal: Vec<&String> = by_name.keys().filter(|n| n.contains("-temporal-")).collect();
    assert_eq!(temporal.len(), 6, "{temporal:?}");
    assert_eq!(by_name.len(), 8);
}

/// Seed 002 asks a module for documented inputs with defaults and outputs naming the
/// essential identifiers. Ours: a minimal deploy.yaml takes every default, the shipped
/// deploy.yaml documents each section, and `status --output json` names the cluster, the
/// services and the endpoints' resources with their ids.
#[test]
fn property_13_interface_completeness() {
    // Each top-level section of the shipped deploy.yaml explains itself: a comment just
    // above it, on its line or inside its block.
    let shipped = std::fs::read_to_string(support::repo().join("deploy.yaml")).unwrap();
    let lines: Vec<&str> = shipped.lines().collect();
    let tops: Vec<usize> =
        (0..lines.len()).filter(|&i| lines[i].chars().next().is_some_and(|c| c.is_ascii_lowercase())).collect();
    assert!(tops.len() >= 12, "{tops:?}");
    for (n, &start) in tops.iter().enumerate() {
        let end = tops.get(n + 1).copied().unwrap_or(lines.len());
        let above = start > 0 && lines[start - 1].starts_with('#');
        let within = lines[start..end].iter().any(|l| l.contains('#'));
        assert!(above || within, "deploy.yaml: `{}` is not documented", lines[start]);
    }
    let h = stack("p13");
    let status = h.run(&["status", "--output", "json"]).ok();
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    let resources = doc["resources"].as_array().unwrap();
    let id_of = |node: &str| -> String {
        let r = resources.iter().find(|r| r["node"] == node).unwrap_or_else(|| panic!("{node} missing"));
        assert_eq!(r["state"], "ok", "{node}: {r}");
        r["id"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(id_of("ecs-cluster"), format!("{PROJECT}-cluster"));
    for key in ["history", "matching", "frontend", "worker", "ui", "grafana", "adot"] {
        assert!(id_of(&format!("ecs-service/{key}")).starts_with("arn:aws:ecs:"), "{key}");
    }
    for node in ["dsql-cluster", "opensearch-domain", "prometheus-workspace"] {
        assert!(!id_of(node).is_empty(), "{node}");
    }
}

#[test]
fn property_14_tmpfs_for_temporal_services() {
    let h = stack("p14");
    for family in FAMILIES {
        let td = task_definition(&h, family);
        let tmpfs = td.container_definitions()[0].linux_parameters().map(|l| l.tmpfs().to_vec()).unwrap_or_default();
        if TEMPORAL.iter().any(|k| family == family_of(k)) {
            assert_eq!(tmpfs.len(), 1, "{family}");
            assert_eq!(tmpfs[0].container_path(), "/etc/temporal/config/dynamicconfig");
            assert_eq!(tmpfs[0].mount_options(), ["noexec", "nosuid"]);
        } else if family == "grafana" || family == "adot-collector" {
            // Where Grafana's provisioning and the collector's discovered targets are written.
            let path = if family == "grafana" { "/etc/grafana/provisioning" } else { "/ecs-sd" };
            assert_eq!(tmpfs.iter().map(|t| t.container_path()).collect::<Vec<_>>(), [path], "{family}");
            assert_eq!(tmpfs[0].mount_options(), ["noexec", "nosuid"]);
        } else {
            assert!(tmpfs.is_empty(), "{family}");
        }
    }
}

#[test]
fn property_15_adot_collector() {
    let h = stack("p15");
    let ssm = aws_sdk_ssm::Client::new(&h.sdk());
    let name = format!("/{PROJECT}/adot/collector-config");
    let p = block_on(ssm.get_parameter().name(&name).send()).unwrap();
    let config = p.parameter().and_then(|p| p.value()).unwrap();
    let workspace = h.state(PROJECT)["nodes"]["prometheus-workspace"]["id"].as_str().unwrap().to_string();
    assert!(config.contains(&format!("/workspaces/{workspace}/api/v1/remote_write")), "{config}");
    assert!(config.contains("sigv4auth"), "{config}");
    // The collector reads that configuration from the parameter, through `secrets`, and
    // has a tmpfs for the targets its discovery writes.
    let adot = task_definition(&h, "adot-collector");
    let container = &adot.container_definitions()[0];
    let from = container.secrets().iter().map(|s| s.value_from().to_string()).collect::<Vec<_>>();
    assert!(from.iter().any(|v| v.ends_with(&format!("parameter{name}"))), "{from:?}");
    let tmpfs = container.linux_parameters().map(|l| l.tmpfs()).unwrap_or_default();
    assert!(tmpfs.iter().any(|t| t.container_path() == "/ecs-sd"), "{tmpfs:?}");

    // Every replica is a target. Two tasks of each service, then what the collector's
    // `ecs_observer` does on each refresh, with the emulator's answers and the rendered
    // filter: ListTasks, DescribeTasks, DescribeTaskDefinition, keep the containers whose
    // task definition ARN and name match and that map a metrics port, at the task's ENI
    // address and the definition's hostPort (ecsobserver `fetcher.go`, `matcher.go`,
    // `task.go`). The collector itself does not run here.
    h.run(&["scale", "up", "--count", "2"]).ok();
    let yaml: serde_json::Value = serde_saphyr::from_str(config).unwrap();
    let observer = &yaml["extensions"]["ecs_observer"];
    assert_eq!(observer["cluster_name"], format!("{PROJECT}-cluster"));
    let filter = &observer["task_definitions"][0];
    let arn_pattern = regex_lite::Regex::new(filter["arn_pattern"].as_str().unwrap()).unwrap();
    let name_pattern = regex_lite::Regex::new(filter["container_name_pattern"].as_str().unwrap()).unwrap();
    let ports: Vec<i32> =
        filter["metrics_ports"].as_array().unwrap().iter().map(|p| p.as_i64().unwrap() as i32).collect();
    let ecs = aws_sdk_ecs::Client::new(&h.sdk_via_proxy());
    let cluster = format!("{PROJECT}-cluster");
    let discover = || {
        let listed = block_on(ecs.list_tasks().cluster(&cluster).send()).unwrap();
        let tasks =
            block_on(ecs.describe_tasks().cluster(&cluster).set_tasks(Some(listed.task_arns().to_vec())).send())
                .unwrap();
        let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for task in tasks.tasks() {
            let definition_arn = task.task_definition_arn().unwrap();
            if !arn_pattern.is_match(definition_arn) {
                continue;
            }
            let definition = block_on(ecs.describe_task_definition().task_definition(definition_arn).send()).unwrap();
            let ip = task
                .attachments()
                .iter()
                .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
                .flat_map(|a| a.details())
                .find(|d| d.name() == Some("privateIPv4Address"))
                .and_then(|d| d.value())
                .expect("an awsvpc task's address");
            for c in definition.task_definition().unwrap().container_definitions() {
                let name = c.name().unwrap();
                if !name_pattern.is_match(name) {
                    continue;
                }
                for m in c.port_mappings().iter().filter(|m| m.container_port().is_some_and(|p| ports.contains(&p))) {
                    let port = m.host_port().expect("the metrics port's hostPort, which the observer scrapes");
                    targets.entry(name.to_string()).or_default().push(format!("{ip}:{port}"));
                }
            }
        }
        targets
    };
    // The stand-in scheduler starts the second tasks a moment after the scale (its pass
    // is every 250 ms): wait for them, up to a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut targets = discover();
    while TEMPORAL.iter().any(|k| targets.get(&family_of(k)).map_or(0, Vec::len) < 2)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(250));
        targets = discover();
    }
    assert_eq!(targets.len(), 5, "the five Temporal services and nothing else: {targets:?}");
    for k in TEMPORAL {
        let found = &targets[&family_of(k)];
        let distinct: std::collections::BTreeSet<&String> = found.iter().collect();
        assert_eq!((found.len(), distinct.len()), (2, 2), "{k}: both replicas, each at its own address: {found:?}");
        assert!(found.iter().all(|t| t.ends_with(":9090")), "{found:?}");
    }
    // No Service Connect name stands for the replicas any more.
    let services = created_services(&h);
    for k in TEMPORAL {
        let sc = &services[&format!("{PROJECT}-{}", family_of(k))]["serviceConnectConfiguration"];
        let names: Vec<&str> =
            sc["services"].as_array().unwrap().iter().filter_map(|s| s["discoveryName"].as_str()).collect();
        assert!(!names.iter().any(|n| n.ends_with("-metrics")), "{k}: {names:?}");
    }
}
