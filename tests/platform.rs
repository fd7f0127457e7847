//! The shared platform (logs, Grafana secret, ECR, AMP, ADOT parameter, Cloud Map, ECS
//! cluster) and the IAM roles, against moto through the recording proxy.

mod support;

use support::{Harness, block_on};
use temporalctl_proxy::Script;

const PROJECT: &str = "itplat";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\nlogs:\n  retention_days: 14\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

fn secret_value(h: &Harness) -> serde_json::Value {
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    let out = block_on(sm.get_secret_value().secret_id(format!("{PROJECT}/grafana-admin")).send()).unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

#[test]
fn up_builds_the_platform_with_tags_and_settings_from_the_config() {
    let h = Harness::new("plat-up", &deploy());
    let run = h.run(&["up"]).ok();
    let sdk = h.sdk();
    block_on(async {
        // Log groups: one per service, the one-off admin tools and ECS Exec, each with the
        // configured retention.
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let groups = logs.describe_log_groups().log_group_name_prefix(format!("/ecs/{PROJECT}/")).send().await.unwrap();
        let names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
        assert_eq!(names.len(), 10, "{names:?}");
        assert!(names.contains(&"/ecs/itplat/ecs-exec") && names.contains(&"/ecs/itplat/temporal-history"));
        assert!(groups.log_groups().iter().all(|g| g.retention_in_days() == Some(14)));

        // The cluster: Container Insights, ECS Exec logging to its group, Service Connect namespace.
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let clusters = ecs
            .describe_clusters()
            .clusters("itplat-cluster")
            .include(aws_sdk_ecs::types::ClusterField::Tags)
            .include(aws_sdk_ecs::types::ClusterField::Settings)
            .include(aws_sdk_ecs::types::ClusterField::Configurations)
            .send()
            .await
            .unwrap();
        let c = &clusters.clusters()[0];
        assert_eq!(c.settings()[0].value(), Some("enabled"));
        let exec = c.configuration().unwrap().execute_command_configuration().unwrap();
        assert_eq!(exec.log_configuration().unwrap().cloud_watch_log_group_name(), Some("/ecs/itplat/ecs-exec"));
        assert!(c.service_connect_defaults().unwrap().namespace().unwrap().contains(":namespace/"));
        assert!(c.tags().iter().any(|t| t.key() == Some("temporalctl:node") && t.value() == Some("ecs-cluster")));

        // ECR: scan on push and a lifecycle policy.
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repos = ecr.describe_repositories().repository_names("itplat/temporal-server").send().await.unwrap();
        assert_eq!(repos.repositories()[0].image_scanning_configuration().map(|s| s.scan_on_push()), Some(true));
        assert!(ecr.get_lifecycle_policy().repository_name("itplat/temporal-server").send().await.is_ok());

        // The ADOT parameter carries the collector config pointing at the workspace.
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let p = ssm.get_parameter().name("/itplat/adot/collector-config").send().await.unwrap();
        let value = p.parameter().unwrap().value().unwrap();
        assert!(value.contains("/api/v1/remote_write") && value.contains("cluster_name: itplat-cluster"), "{value}");

        // IAM: execution role with AWS's policy plus our inline one; the instance profile.
        let iam = aws_sdk_iam::Client::new(&sdk);
        let attached = iam.list_attached_role_policies().role_name("itplat-ecs-execution").send().await.unwrap();
        assert!(
            attached.attached_policies().iter().any(|p| p.policy_name() == Some("AmazonECSTaskExecutionRolePolicy"))
        );
        let inline =
            iam.get_role_policy().role_name("itplat-ecs-execution").policy_name("temporalctl").send().await.unwrap();
        assert!(inline.policy_document().contains("grafana-admin"));
        let profile = iam.get_instance_profile().instance_profile_name("itplat-ecs-instance").send().await.unwrap();
        assert_eq!(profile.instance_profile().unwrap().roles()[0].role_name(), "itplat-ecs-instance");
        let grafana =
            iam.get_role_policy().role_name("itplat-grafana-task").policy_name("temporalctl").send().await.unwrap();
        assert!(
            grafana.policy_document().contains("aps%3AQueryMetrics")
                || grafana.policy_document().contains("aps:QueryMetrics")
        );
    });

    // The Grafana password lives in Secrets Manager only.
    let secret = secret_value(&h);
    let password = secret["admin_password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 32);
    assert_eq!(secret["admin_user"], "admin");
    let state = std::fs::read_to_string(h.state_path(PROJECT)).unwrap();
    assert!(!state.contains(&password) && !run.stdout.contains(&password) && !run.stderr.contains(&password));
    let reads: Vec<String> = h.sent("GetSecretValue").iter().map(|b| b["SecretId"].to_string()).collect();
    assert!(
        !reads.iter().any(|id| id.contains("grafana-admin")),
        "temporalctl never reads the password back: {reads:?}"
    );
}

/// Mutual TLS by default: the authority and the certificates live in Secrets Manager
/// only; the execution role can inject the certificates but never read the authority; each
/// task definition gets the values its job needs and no more; temporalctl reads the
/// authority once, to issue the certificates.
#[test]
fn tls_material_lives_in_secrets_manager_and_each_task_gets_only_what_its_job_needs() {
    let h = Harness::new("plat-tls", &deploy());
    let run = h.run(&["up"]).ok();
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    let value = |name: &str| -> serde_json::Value {
        let out = block_on(sm.get_secret_value().secret_id(format!("{PROJECT}/{name}")).send()).unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    };
    let (authority, certificates) = (value("temporal-tls-authority"), value("temporal-tls"));
    assert_eq!(certificates["authority"], authority["cert"], "the certificates name the authority that issued them");
    let authority_key = authority["key"].as_str().unwrap();
    assert!(authority_key.contains("PRIVATE KEY"));
    let state = std::fs::read_to_string(h.state_path(PROJECT)).unwrap();
    for text in [&state, &run.stdout, &run.stderr] {
        assert!(!text.contains("PRIVATE KEY"), "a key outside Secrets Manager");
    }
    let reads: Vec<String> =
        h.sent("GetSecretValue").iter().map(|b| b["SecretId"].as_str().unwrap().to_string()).collect();
    assert_eq!(reads.len(), 1, "the authority, read once to issue: {reads:?}");
    assert!(reads[0].contains("temporal-tls-authority"), "{reads:?}");

    // The execution role injects the certificates; no role of a task reads the authority.
    let iam = aws_sdk_iam::Client::new(&h.sdk());
    let policy = |role: &str| {
        let out = block_on(iam.get_role_policy().role_name(role).policy_name("temporalctl").send()).unwrap();
        out.policy_document().to_string()
    };
    let execution = policy(&format!("{PROJECT}-ecs-execution"));
    assert!(execution.contains("temporal-tls") && !execution.contains("temporal-tls-authority"), "{execution}");
    let roles = block_on(iam.list_roles().send()).unwrap();
    for role in roles.roles().iter().map(|r| r.role_name()).filter(|r| r.starts_with(PROJECT)) {
        if let Ok(out) = block_on(iam.get_role_policy().role_name(role).policy_name("temporalctl").send()) {
            assert!(!out.policy_document().contains("temporal-tls-authority"), "{role} can read the authority");
        }
    }

    // Each task definition: the secret's keys its job needs.
    let secrets: std::collections::BTreeMap<String, Vec<String>> = h
        .sent("RegisterTaskDefinition")
        .iter()
        .map(|r| {
            let names = r["containerDefinitions"][0]["secrets"]
                .as_array()
                .map(|s| s.iter().filter(|s| s["valueFrom"].as_str().unwrap().contains("temporal-tls")))
                .into_iter()
                .flatten()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect();
            (r["family"].as_str().unwrap().trim_start_matches(&format!("{PROJECT}-")).to_string(), names)
        })
        .collect();
    let internode = ["TEMPORALCTL_TLS_AUTHORITY", "TEMPORALCTL_TLS_INTERNODE_CERT", "TEMPORALCTL_TLS_INTERNODE_KEY"];
    for service in ["temporal-history", "temporal-matching", "temporal-internal-frontend", "temporal-worker"] {
        assert_eq!(secrets[service], internode, "{service}");
    }
    let mut frontend = internode.to_vec();
    frontend.extend(["TEMPORALCTL_TLS_FRONTEND_CERT", "TEMPORALCTL_TLS_FRONTEND_KEY"]);
    assert_eq!(secrets["temporal-frontend"], frontend);
    assert_eq!(secrets["temporal-ui"], ["TEMPORAL_TLS_CA_DATA", "TEMPORAL_TLS_CERT_DATA", "TEMPORAL_TLS_KEY_DATA"]);
    assert_eq!(
        secrets["temporal-admin-tools"],
        ["TEMPORALCTL_TLS_AUTHORITY", "TEMPORALCTL_TLS_CLIENT_CERT", "TEMPORALCTL_TLS_CLIENT_KEY"]
    );
    assert!(secrets["grafana"].is_empty() && secrets["adot-collector"].is_empty(), "{secrets:?}");

    // A second `up` issues nothing new.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
    assert!(h.sent("GetSecretValue").is_empty());

    // `status` says TLS is on and until when, from the secrets' dates.
    let status = h.run(&["status"]).ok();
    let year = |offset: i32| {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        let y: i32 = now.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap()[..4].parse().unwrap();
        y + offset
    };
    assert!(status.stdout.contains(&format!("mutual TLS; certificates valid until {}-", year(5))), "{}", status.stdout);
    assert!(status.stdout.contains("mutual TLS: a client certificate from `temporalctl tls client-cert`"));

    // An operator's client certificate, for `connect frontend`: written where asked, the
    // directory and the files private, the key never printed.
    use std::os::unix::fs::PermissionsExt;
    let out = h.run(&["tls", "client-cert", "--out", "certs"]).ok();
    let dir = h.dir.join("certs");
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for (file, key) in [("authority.pem", "authority"), ("client.pem", "client_cert"), ("client.key", "client_key")] {
        let path = dir.join(file);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{file}");
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim_end(), certificates[key].as_str().unwrap().trim_end());
    }
    assert!(out.stdout.contains("--tls-server-name temporal-frontend"), "{}", out.stdout);
    assert!(out.stdout.contains("--address localhost:7233"), "{}", out.stdout);
    assert!(!format!("{}{}", out.stdout, out.stderr).contains("PRIVATE KEY"));
    assert!(h.proxy.mutating().is_empty(), "reading a certificate changes nothing: {:?}", h.proxy.mutating());

    // A secret of that name without our tags is never read.
    let arn = block_on(sm.describe_secret().secret_id(format!("{PROJECT}/temporal-tls")).send()).unwrap().arn.unwrap();
    block_on(sm.untag_resource().secret_id(&arn).tag_keys("temporalctl:node").send()).unwrap();
    h.proxy.clear();
    let refused = h.run(&["tls", "client-cert", "--out", "other"]).code(1);
    assert!(refused.stderr.contains("not owned by this deployment"), "{}", refused.stderr);
    assert!(h.sent("GetSecretValue").is_empty(), "the foreign secret was read");
    assert!(!h.dir.join("other").exists());
}

/// `tls rotate`: new certificates from the same authority as a new version of the same
/// secret (one UpdateSecret: no task definition changes), then new tasks for exactly the
/// services that read them, in `up`'s wave order, their counts untouched; `status` shows
/// the new end date and a second `up` changes nothing. A certificates secret without our
/// tags is neither written nor are the services rolled for it.
#[test]
fn tls_rotate_reissues_in_place_and_rolls_the_readers_in_waves() {
    let h = Harness::new("plat-rotate", &deploy());
    h.run(&["up"]).ok();
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    let value = |name: &str| -> serde_json::Value {
        let out = block_on(sm.get_secret_value().secret_id(format!("{PROJECT}/{name}")).send()).unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    };
    let before = value("temporal-tls");
    let arn = block_on(sm.describe_secret().secret_id(format!("{PROJECT}/temporal-tls")).send()).unwrap().arn.unwrap();
    h.proxy.clear();
    // ECS's reads can lag its writes: the first three DescribeServices (the ownership
    // check, wave 1's look, and wave 1's first wait) show a primary deployment other
    // than the one UpdateService started, and that settled read must not end the wait.
    h.proxy.script(
        "DescribeServices",
        Some(3),
        temporalctl_proxy::Script::rewrite_json(|v| {
            for service in v["services"].as_array_mut().into_iter().flatten() {
                for d in service["deployments"].as_array_mut().into_iter().flatten() {
                    if d["status"] == "PRIMARY" {
                        d["id"] = "ecs-svc/stale".into();
                    }
                }
            }
        }),
    );

    let run = h.run(&["tls", "rotate"]).ok();
    let ops = h.proxy.operations();
    let updates: Vec<usize> = (0..ops.len()).filter(|i| ops[*i] == "UpdateService").collect();
    let reads_between = ops[updates[1]..updates[2]].iter().filter(|o| *o == "DescribeServices").count();
    assert_eq!(
        reads_between, 3,
        "wave 1 waited past the stale read (stale, then its own deployment, then wave 2's look): {ops:?}"
    );
    assert!(run.stdout.contains("6 service(s) on new tasks"), "{}", run.stdout);
    let after = value("temporal-tls");
    for key in ["internode_cert", "frontend_cert", "client_cert", "client_key"] {
        assert_ne!(before[key], after[key], "{key} was not issued anew");
    }
    assert_eq!(after["authority"], value("temporal-tls-authority")["cert"], "the same authority issued them");
    let updates = h.sent("UpdateSecret");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["SecretId"], arn.as_str(), "the secret whose tags were checked, by its ARN");
    let operations = h.proxy.operations();
    for op in ["CreateSecret", "DeleteSecret", "RegisterTaskDefinition", "PutSecretValue"] {
        assert!(!operations.iter().any(|o| o == op), "{op}: {operations:?}");
    }
    let rolled: Vec<String> = h
        .sent("UpdateService")
        .iter()
        .map(|b| {
            assert_eq!(b["forceNewDeployment"], true, "{b}");
            assert!(b.get("desiredCount").is_none(), "a count changed: {b}");
            b["service"].as_str().unwrap().trim_start_matches(&format!("{PROJECT}-")).to_string()
        })
        .collect();
    assert_eq!(
        rolled,
        [
            "temporal-history",
            "temporal-matching",
            "temporal-frontend",
            "temporal-internal-frontend",
            "temporal-worker",
            "temporal-ui"
        ]
    );
    let year = {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        now.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap()[..4].parse::<i32>().unwrap() + 5
    };
    let status = h.run(&["status"]).ok();
    assert!(status.stdout.contains(&format!("certificates valid until {year}-")), "{}", status.stdout);
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());

    // A reader that is not ours: refused before the secret is written.
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let ui = format!("{PROJECT}-temporal-ui");
    let found = block_on(ecs.describe_services().cluster(format!("{PROJECT}-cluster")).services(&ui).send()).unwrap();
    let ui_arn = found.services()[0].service_arn().unwrap().to_string();
    block_on(ecs.untag_resource().resource_arn(&ui_arn).tag_keys("temporalctl:node").send()).unwrap();
    h.proxy.clear();
    let refused = h.run(&["tls", "rotate"]).code(1);
    assert!(refused.stderr.contains("not owned by this deployment"), "{}", refused.stderr);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
    let tag = aws_sdk_ecs::types::Tag::builder().key("temporalctl:node").value("ecs-service/ui").build();
    block_on(ecs.tag_resource().resource_arn(&ui_arn).tags(tag).send()).unwrap();

    // A certificates secret that is not ours: refused before any write.
    block_on(sm.untag_resource().secret_id(&arn).tag_keys("temporalctl:node").send()).unwrap();
    h.proxy.clear();
    let refused = h.run(&["tls", "rotate"]).code(1);
    assert!(refused.stderr.contains("not owned by this deployment"), "{}", refused.stderr);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
    assert_eq!(value("temporal-tls"), after);
}

/// An active root CA in the emulator, made the way its owner would: its own request
/// signed with the root template, the certificate imported. Returns its ARN.
fn private_ca(h: &Harness) -> String {
    use aws_sdk_acmpca::types::*;
    let pca = aws_sdk_acmpca::Client::new(&h.sdk());
    block_on(async {
        let subject = Asn1Subject::builder().common_name("Example Corp root").build();
        let config = CertificateAuthorityConfiguration::builder()
            .key_algorithm(KeyAlgorithm::Rsa2048)
            .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
            .subject(subject)
            .build()
            .unwrap();
        let made = pca
            .create_certificate_authority()
            .certificate_authority_configuration(config)
            .certificate_authority_type(CertificateAuthorityType::Root)
            .send()
            .await
            .unwrap();
        let arn = made.certificate_authority_arn().unwrap().to_string();
        let csr = pca.get_certificate_authority_csr().certificate_authority_arn(&arn).send().await.unwrap();
        let validity = Validity::builder().r#type(ValidityPeriodType::Years).value(10).build().unwrap();
        let issued = pca
            .issue_certificate()
            .certificate_authority_arn(&arn)
            .csr(aws_smithy_types::Blob::new(csr.csr().unwrap()))
            .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
            .template_arn("arn:aws:acm-pca:::template/RootCACertificate/V1")
            .validity(validity)
            .send()
            .await
            .unwrap();
        let cert_arn = issued.certificate_arn().unwrap();
        let cert =
            pca.get_certificate().certificate_authority_arn(&arn).certificate_arn(cert_arn).send().await.unwrap();
        pca.import_certificate_authority_certificate()
            .certificate_authority_arn(&arn)
            .certificate(aws_smithy_types::Blob::new(cert.certificate().unwrap()))
            .send()
            .await
            .unwrap();
        arn
    })
}

/// With `temporal.tls.private_ca_arn` the user's AWS Private CA signs the certificates:
/// no authority of ours exists; each of the three is requested with the CA's own signing
/// algorithm, its template, an end bounded by the CA's and a token of its own; the
/// secret holds the CA's certificate as the trust and each certificate with its chain;
/// nothing of the CA is ever changed. A short-lived-certificate CA (moto reports every CA
/// so; AWS's default is general purpose) is refused before anything is issued. `tls
/// rotate` issues from the same CA; a change of issuer under running services is refused
/// before any AWS call.
#[test]
fn a_private_ca_issues_the_certificates_and_nothing_of_it_changes() {
    let h = Harness::new("plat-pca", &deploy());
    let arn = private_ca(&h);
    let with_ca = format!("{}  tls: {{ private_ca_arn: \"{arn}\" }}\n", deploy());
    std::fs::write(h.dir.join("deploy.yaml"), &with_ca).unwrap();

    let refused = h.run(&["up"]).code(1);
    assert!(
        refused.stderr.contains("short-lived certificate CA") && refused.stderr.contains("general-purpose"),
        "{}",
        refused.stderr
    );
    assert!(h.sent("IssueCertificate").is_empty());

    h.proxy.script(
        "DescribeCertificateAuthority",
        None,
        temporalctl_proxy::Script::rewrite_json(|v| v["CertificateAuthority"]["UsageMode"] = "GENERAL_PURPOSE".into()),
    );
    h.proxy.clear();
    h.run(&["up"]).ok();
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    assert!(block_on(sm.describe_secret().secret_id(format!("{PROJECT}/temporal-tls-authority")).send()).is_err());
    let pca = aws_sdk_acmpca::Client::new(&h.sdk());
    let ca = block_on(pca.describe_certificate_authority().certificate_authority_arn(&arn).send()).unwrap();
    let ca_end = ca.certificate_authority().unwrap().not_after().unwrap().secs();
    let requests = h.sent("IssueCertificate");
    let templates: Vec<&str> = requests.iter().map(|r| r["TemplateArn"].as_str().unwrap()).collect();
    assert_eq!(
        templates,
        [
            "arn:aws:acm-pca:::template/EndEntityCertificate/V1",
            "arn:aws:acm-pca:::template/EndEntityServerAuthCertificate/V1",
            "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1"
        ]
    );
    let mut tokens = std::collections::BTreeSet::new();
    for r in &requests {
        assert_eq!(r["CertificateAuthorityArn"], arn.as_str());
        assert_eq!(r["SigningAlgorithm"], "SHA256WITHRSA", "the CA's own algorithm");
        assert_eq!(r["Validity"]["Type"], "ABSOLUTE");
        // moto's CA lasts a year: the certificates end a day before it, not in five years.
        let end = r["Validity"]["Value"].as_i64().unwrap();
        assert!((end - (ca_end - 86_400)).abs() <= 1, "{end} vs the CA's {ca_end}");
        tokens.insert(r["IdempotencyToken"].as_str().unwrap().to_string());
    }
    assert_eq!(tokens.len(), 3, "a token per request");
    let pca_writes: Vec<String> =
        h.proxy.mutating().into_iter().filter(|c| c.service == "acm-pca").map(|c| c.operation).collect();
    assert_eq!(pca_writes, ["IssueCertificate"; 3], "nothing of the CA is changed");

    let described = block_on(sm.describe_secret().secret_id(format!("{PROJECT}/temporal-tls")).send()).unwrap();
    let until = aws_smithy_types::DateTime::from_secs(ca_end - 86_400)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()[..10]
        .to_string();
    assert!(described.description().unwrap().ends_with(&format!(", from {arn}; valid until {until}")), "{described:?}");
    let value = |name: &str| -> serde_json::Value {
        let out = block_on(sm.get_secret_value().secret_id(format!("{PROJECT}/{name}")).send()).unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    };
    let certificates = value("temporal-tls");
    let ca_cert = block_on(pca.get_certificate_authority_certificate().certificate_authority_arn(&arn).send()).unwrap();
    let ca_pem = ca_cert.certificate().unwrap().trim();
    assert_eq!(certificates["authority"].as_str().unwrap().trim(), ca_pem, "the CA is what the tasks trust");
    for key in ["internode_cert", "frontend_cert", "client_cert"] {
        let pem = certificates[key].as_str().unwrap().trim();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "{key}: the certificate, then its chain");
        assert!(pem.ends_with(ca_pem), "{key}");
    }
    for key in ["internode_key", "frontend_key", "client_key"] {
        assert!(certificates[key].as_str().unwrap().contains("PRIVATE KEY"), "{key}: made here, kept in the secret");
    }
    let status = h.run(&["status"]).ok();
    assert!(
        status.stdout.contains(&format!("certificates from your private CA, valid until {until}")),
        "{}",
        status.stdout
    );

    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());

    h.proxy.clear();
    h.run(&["tls", "rotate"]).ok();
    assert_eq!(h.sent("IssueCertificate").len(), 3);
    let rotated = value("temporal-tls");
    assert_ne!(rotated["internode_key"], certificates["internode_key"]);
    assert_eq!(rotated["authority"], certificates["authority"]);
    let described = block_on(sm.describe_secret().secret_id(format!("{PROJECT}/temporal-tls")).send()).unwrap();
    assert!(described.description().unwrap().contains(&format!(", from {arn}; valid until ")), "{described:?}");

    // Back to our own authority while the services run: refused, naming both, no call.
    std::fs::write(h.dir.join("deploy.yaml"), deploy()).unwrap();
    h.proxy.clear();
    let refused = h.run(&["up"]).code(2);
    assert!(
        refused.stderr.contains(&format!(
            "trusts certificates from {arn}, and a rolling change to the deployment's own authority"
        )),
        "{}",
        refused.stderr
    );
    assert!(h.proxy.calls().is_empty(), "{:?}", h.proxy.operations());
    let refused = h.run(&["tls", "rotate"]).code(1);
    assert!(refused.stderr.contains(&format!("the running certificates come from {arn}")), "{}", refused.stderr);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

#[test]
fn a_second_up_changes_nothing_and_never_rotates_the_password() {
    let h = Harness::new("plat-noop", &deploy());
    h.run(&["up"]).ok();
    let before = secret_value(&h);
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
    assert_eq!(secret_value(&h), before);
}

#[test]
fn a_retention_changed_out_of_band_is_set_back_and_nothing_else_changes() {
    let h = Harness::new("plat-drift", &deploy());
    h.run(&["up"]).ok();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&h.sdk());
    block_on(logs.put_retention_policy().log_group_name("/ecs/itplat/grafana").retention_in_days(1).send()).unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    let ops: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops, vec!["PutRetentionPolicy"]);
    let groups = block_on(logs.describe_log_groups().log_group_name_prefix("/ecs/itplat/grafana").send()).unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));
}

#[test]
fn down_keeps_logs_secret_and_images_and_says_so() {
    let h = Harness::new("plat-down", &deploy());
    h.run(&["up"]).ok();
    let password = secret_value(&h)["admin_password"].clone();
    let run = h.run(&["down", "--yes"]).ok();
    for node in [
        "log-group/grafana",
        "log-group/ecs-exec",
        "secret/grafana-admin",
        "ecr-repository/server",
        "dsql-cluster",
        "opensearch-domain",
    ] {
        assert!(run.stderr.contains(&format!("{node:<34} keeping: holds data")), "{node} not kept:\n{}", run.stderr);
    }
    // Twelve groups; the one the OpenSearch domain sits in stays with it.
    assert_eq!(h.proxy.calls().iter().filter(|c| c.operation == "DeleteSecurityGroup").count(), 11);
    let sdk = h.sdk();
    block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let groups = logs.describe_log_groups().log_group_name_prefix(format!("/ecs/{PROJECT}/")).send().await.unwrap();
        assert_eq!(groups.log_groups().len(), 10, "log groups are kept");
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        assert!(ecr.describe_repositories().repository_names("itplat/temporal-server").send().await.is_ok());
        let iam = aws_sdk_iam::Client::new(&sdk);
        assert!(iam.get_role().role_name("itplat-ecs-execution").send().await.is_err(), "roles are not data: deleted");
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let clusters = ecs.describe_clusters().clusters("itplat-cluster").send().await.unwrap();
        assert!(clusters.clusters().iter().all(|c| c.status() == Some("INACTIVE")));
    });
    assert_eq!(secret_value(&h)["admin_password"], password, "the secret survives down");
    // A new `up` finds the kept data and reuses it; only the TLS certificates, which are
    // not data, are issued anew from the kept authority.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(!h.proxy.operations().iter().any(|o| o == "CreateLogGroup" || o == "CreateRepository"));
    let created: Vec<String> = h.sent("CreateSecret").iter().map(|b| b["Name"].as_str().unwrap().to_string()).collect();
    assert_eq!(created, [format!("{PROJECT}/temporal-tls")], "only the certificates are made anew");
    assert_eq!(secret_value(&h)["admin_password"], password);
}

/// The rule matrix on what the emulator holds: Temporal task-to-task on both ranges,
/// metrics only from ADOT, OpenSearch only from Temporal (properties 1 and 8 in general
/// are in tests/properties.rs).
#[test]
fn security_groups_admit_only_named_groups() {
    let h = Harness::new("plat-sg", &deploy());
    h.run(&["up"]).ok();
    let ec2 = h.ec2();
    let ours = aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build();
    let groups = block_on(ec2.describe_security_groups().filters(ours).send()).unwrap();
    let by_node: std::collections::BTreeMap<String, &aws_sdk_ec2::types::SecurityGroup> = groups
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.tags()
                    .iter()
                    .find(|t| t.key() == Some("temporalctl:node"))
                    .and_then(|t| t.value())
                    .unwrap()
                    .to_string(),
                g,
            )
        })
        .collect();
    assert_eq!(by_node.len(), 12);
    let id = |node: &str| by_node[node].group_id().unwrap().to_string();
    for g in by_node.values() {
        for p in g.ip_permissions() {
            for r in p.ip_ranges() {
                assert_ne!(r.cidr_ip(), Some("0.0.0.0/0"), "{:?} admits the internet", g.group_name());
            }
            assert!(p.ipv6_ranges().iter().all(|r| r.cidr_ipv6() != Some("::/0")));
        }
    }
    // History admits the five Temporal groups on both ranges, and ADOT on 9090.
    let history = by_node["security-group/history"];
    let sources = |from: i32| -> Vec<String> {
        let mut v: Vec<String> = history
            .ip_permissions()
            .iter()
            .filter(|p| p.from_port() == Some(from))
            .flat_map(|p| p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(String::from)))
            .collect();
        v.sort();
        v
    };
    let mut temporal: Vec<String> = ["history", "matching", "frontend", "internal_frontend", "worker"]
        .iter()
        .map(|k| id(&format!("security-group/{k}")))
        .collect();
    temporal.sort();
    assert_eq!(sources(7233), temporal);
    assert_eq!(sources(6933), temporal);
    assert_eq!(sources(9090), vec![id("security-group/adot")]);
    // OpenSearch: HTTPS from the Temporal groups only.
    let os = by_node["security-group/opensearch"];
    assert!(os.ip_permissions().iter().all(|p| p.from_port() == Some(443) && p.ip_ranges().is_empty()));
    // UI, Grafana and ADOT take no inbound traffic at all (reached by SSM port forwarding).
    for k in ["ui", "grafana", "adot"] {
        assert!(by_node[&format!("security-group/{k}")].ip_permissions().is_empty(), "{k}");
    }
    // Nothing changes on the next run (rules split across nodes do not fight).
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
}

fn three_zones() -> String {
    format!("{}network:\n  availability_zones: [us-east-1a, us-east-1b, us-east-1c]\n", deploy())
}

const DOMAIN: &str = "itplat-visibility";

fn describe_domain() -> String {
    format!("GET /2021-01-01/opensearch/domain/{DOMAIN}")
}

/// A three-zone domain: zone awareness on with three zones, a private subnet in each,
/// dedicated masters, gp3 IOPS, and its three logs published to log groups of ours that
/// OpenSearch may write to (the policy put before the domain, which AWS checks at
/// CreateDomain). The emulator keeps the request as sent, so the request is checked.
#[test]
fn a_three_zone_domain_is_created_with_zone_awareness_a_subnet_per_zone_and_its_logs() {
    let opensearch = "opensearch:\n  zones: 3\n  instance_type: m6g.large.search\n  instance_count: 3\n  volume_size_gb: 100\n  iops: 4000\n  dedicated_master: { instance_type: m6g.large.search, count: 3 }\n";
    let h = Harness::new("plat-os3", &format!("{}{opensearch}", three_zones()));
    h.run(&["up"]).ok();
    let created = h.sent("POST /2021-01-01/opensearch/domain");
    assert_eq!(created.len(), 1);
    let c = &created[0];
    let cluster = &c["ClusterConfig"];
    assert_eq!(cluster["ZoneAwarenessEnabled"], true);
    assert_eq!(cluster["ZoneAwarenessConfig"]["AvailabilityZoneCount"], 3);
    assert_eq!(cluster["MultiAZWithStandbyEnabled"], false);
    assert_eq!((&cluster["InstanceType"], &cluster["InstanceCount"]), (&"m6g.large.search".into(), &3.into()));
    assert_eq!(
        (&cluster["DedicatedMasterEnabled"], &cluster["DedicatedMasterType"], &cluster["DedicatedMasterCount"]),
        (&true.into(), &"m6g.large.search".into(), &3.into())
    );
    assert_eq!((&c["EBSOptions"]["Iops"], &c["EBSOptions"]["Throughput"]), (&4000.into(), &125.into()));
    let state = h.state(PROJECT);
    let subnet = |i: usize| state["nodes"][format!("subnet/private-{i}")]["id"].as_str().unwrap().to_string();
    let mut sent: Vec<String> =
        c["VPCOptions"]["SubnetIds"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    sent.sort();
    let mut ours = vec![subnet(0), subnet(1), subnet(2)];
    ours.sort();
    assert_eq!(sent, ours, "one private subnet per zone");

    let logs = aws_sdk_cloudwatchlogs::Client::new(&h.sdk());
    let prefix = format!("/aws/OpenSearchService/domains/{DOMAIN}/");
    let groups = block_on(logs.describe_log_groups().log_group_name_prefix(&prefix).send()).unwrap();
    let groups: Vec<_> =
        groups.log_groups().iter().map(|g| (g.log_group_name().unwrap(), g.retention_in_days())).collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(groups.iter().all(|(_, days)| *days == Some(14)), "the same retention as the other logs: {groups:?}");
    let published = c["LogPublishingOptions"].as_object().unwrap();
    let mut kinds: Vec<&String> = published.keys().collect();
    kinds.sort();
    assert_eq!(kinds, ["ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"]);
    for (kind, option) in published {
        let arn = option["CloudWatchLogsLogGroupArn"].as_str().unwrap();
        assert_eq!(option["Enabled"], true);
        assert!(
            !arn.ends_with(":*") && groups.iter().any(|(name, _)| arn.ends_with(&format!(":log-group:{name}"))),
            "{kind}: {arn}"
        );
    }
    let policies = block_on(logs.describe_resource_policies().send()).unwrap();
    let policy =
        policies.resource_policies().iter().find(|p| p.policy_name() == Some("itplat-opensearch-logs")).unwrap();
    let document: serde_json::Value = serde_json::from_str(policy.policy_document().unwrap()).unwrap();
    assert_eq!(document["Statement"][0]["Principal"]["Service"], "es.amazonaws.com");
    assert_eq!(document["Statement"][0]["Resource"].as_array().unwrap().len(), 3);
    let ops = h.proxy.operations();
    let at = |op: &str| ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("no {op}"));
    assert!(at("PutResourcePolicy") < at("POST /2021-01-01/opensearch/domain"), "the policy before the domain");

    // What was read back equals what was asked: the next run changes nothing.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
    // `down` keeps the logs and what lets the domain write them, with the domain.
    let down = h.run(&["down", "--yes"]).ok();
    for kept in ["opensearch-domain", "log-group/opensearch-application-logs", "log-resource-policy/opensearch"] {
        assert!(down.stderr.lines().any(|l| l.contains(kept) && l.contains("kept")), "{kept}:\n{}", down.stderr);
    }
}

/// An account holds 10 CloudWatch Logs resource policies per region, a quota AWS does not
/// raise (the emulator enforces the same 10): `up` names it and the way out, and the
/// domain, which needs the policy, is not created.
#[test]
fn a_full_resource_policy_quota_is_named_with_the_way_out() {
    let h = Harness::new("plat-policies", &deploy());
    let logs = aws_sdk_cloudwatchlogs::Client::new(&h.sdk());
    for i in 0..10 {
        block_on(logs.put_resource_policy().policy_name(format!("someone-{i}")).policy_document("{}").send()).unwrap();
    }
    let run = h.run(&["up"]).code(1);
    assert!(
        run.stderr.contains("a quota AWS does not raise") && run.stderr.contains("opensearch.publish_logs: false"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("raise the quota in the Service Quotas console"),
        "no contradicting hint:\n{}",
        run.stderr
    );
    assert!(h.sent("POST /2021-01-01/opensearch/domain").is_empty(), "no domain without its policy");
}

/// While a blue/green deployment runs, AWS shows the domain as processing for a long
/// time. The emulator applies a change at once, so the proxy shows it busy for three
/// reads once the emulator holds the new layout.
fn busy_after_the_change(marker: &'static str) -> Script {
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Script::rewrite_json(move |v| {
        let status = &mut v["DomainStatus"];
        if status.to_string().contains(marker) && busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
            status["Processing"] = true.into();
            status["DomainProcessingStatus"] = "Modifying".into();
            status["ChangeProgressDetails"] = serde_json::json!({ "ConfigChangeStatus": "ApplyingChanges", "Message": "Copying shards to new nodes" });
        }
    })
}

/// One zone to three is a configuration change AWS makes in place as a blue/green
/// deployment: `plan` shows an update (never a replacement, which would lose the index)
/// and says so; `up` makes one UpdateDomainConfig and waits on the processing state.
#[test]
fn a_change_from_one_zone_to_three_plans_as_an_update_and_applies_through_the_wait() {
    let h = Harness::new("plat-os-zones", &three_zones());
    h.run(&["up"]).ok();
    let three = "opensearch:\n  zones: 3\n  instance_type: m6g.large.search\n  instance_count: 3\n";
    std::fs::write(h.dir.join("deploy.yaml"), format!("{}{three}", three_zones())).unwrap();
    let plan = h.run(&["plan"]).ok();
    let line = plan.stdout.lines().find(|l| l.contains("opensearch-domain")).unwrap_or_default();
    assert!(line.contains("update") && line.contains("zones: 1 -> 3") && line.contains("subnets"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("replace ") && plan.stdout.contains("0 to replace"), "{}", plan.stdout);
    assert!(plan.stdout.contains("note: AWS runs this as a blue/green deployment"), "{}", plan.stdout);

    h.proxy.clear();
    h.proxy.script(&describe_domain(), None, busy_after_the_change("\"AvailabilityZoneCount\":3"));
    let run = h.run(&["up"]).ok();
    let domain_calls: Vec<String> =
        h.proxy.calls().into_iter().filter(|c| c.service == "es").map(|c| c.operation).collect();
    eprintln!("the calls of a zone change: {domain_calls:?}");
    let updates = h.sent(&format!("POST /2021-01-01/opensearch/domain/{DOMAIN}/config"));
    assert_eq!(updates.len(), 1, "one call changes it");
    assert_eq!(updates[0]["ClusterConfig"]["ZoneAwarenessConfig"]["AvailabilityZoneCount"], 3);
    assert_eq!(updates[0]["VPCOptions"]["SubnetIds"].as_array().unwrap().len(), 3);
    assert!(!h.proxy.operations().iter().any(|o| o.starts_with("DELETE /2021-01-01/opensearch")), "never replaced");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("opensearch-domain") && l.contains("Modifying, ApplyingChanges, Copying shards")),
        "the wait shows AWS's progress:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("blue/green"), "up says what it starts:\n{}", run.stderr);
    h.proxy.unscript();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
    // A domain that does not report gp3's IOPS and throughput (the emulator returns what
    // was sent; AWS's answer for a domain made without them is not documented) runs at
    // the baseline: no change either.
    h.proxy.script(
        &describe_domain(),
        None,
        Script::rewrite_json(|v| {
            let ebs = v["DomainStatus"]["EBSOptions"].as_object_mut().unwrap();
            ebs.remove("Iops");
            ebs.remove("Throughput");
        }),
    );
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
}

/// An engine upgrade cannot be undone: `plan` says so, `up` refuses it without
/// --allow-engine-upgrade (no OpenSearch change made) and with it calls UpgradeDomain
/// alone, then waits for the upgrade. (The emulator has no UpgradeDomain: the proxy
/// answers it and shows the new version afterwards.)
#[test]
fn an_engine_upgrade_is_refused_unless_allowed_and_then_runs_alone() {
    let h = Harness::new("plat-upgrade", &deploy());
    h.run(&["up"]).ok();
    std::fs::write(h.dir.join("deploy.yaml"), format!("{}opensearch:\n  engine_version: OpenSearch_2.13\n", deploy()))
        .unwrap();
    let plan = h.run(&["plan"]).ok();
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.contains("opensearch-domain") && l.contains("update") && l.contains("engine-version")),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("cannot be undone"), "{}", plan.stdout);
    h.proxy.clear();
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("--allow-engine-upgrade"), "{}", run.stderr);
    let opensearch_changes: Vec<_> =
        h.proxy.mutating().into_iter().filter(|c| c.path.contains("opensearch")).map(|c| c.operation).collect();
    assert!(opensearch_changes.is_empty(), "{opensearch_changes:?}");

    let upgraded = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = upgraded.clone();
    h.proxy.script(
        "POST /2021-01-01/opensearch/upgradeDomain",
        None,
        Script::Rewrite(std::sync::Arc::new(move |_, _| {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            (200, serde_json::json!({ "DomainName": DOMAIN, "TargetVersion": "OpenSearch_2.13" }).to_string())
        })),
    );
    // After the call: a read that shows nothing yet (AWS a moment behind), two while it
    // upgrades on the old version, then the new version.
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    h.proxy.script(
        &describe_domain(),
        None,
        Script::rewrite_json(move |v| {
            if upgraded.load(std::sync::atomic::Ordering::SeqCst) {
                let read = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                v["DomainStatus"]["UpgradeProcessing"] = (1..=2).contains(&read).into();
                if read >= 3 {
                    v["DomainStatus"]["EngineVersion"] = "OpenSearch_2.13".into();
                }
            }
        }),
    );
    h.proxy.script(
        &format!("GET /2021-01-01/opensearch/upgradeDomain/{DOMAIN}/status"),
        None,
        Script::Rewrite(std::sync::Arc::new(|_, _| {
            (200, serde_json::json!({ "UpgradeStep": "PRE_UPGRADE_CHECK", "StepStatus": "IN_PROGRESS" }).to_string())
        })),
    );
    h.proxy.clear();
    let run = h.run(&["up", "--allow-engine-upgrade"]).ok();
    let sent = h.sent("POST /2021-01-01/opensearch/upgradeDomain");
    assert_eq!(sent.len(), 1);
    assert_eq!((&sent[0]["DomainName"], &sent[0]["TargetVersion"]), (&DOMAIN.into(), &"OpenSearch_2.13".into()));
    assert!(
        h.sent(&format!("POST /2021-01-01/opensearch/domain/{DOMAIN}/config")).is_empty(),
        "the upgrade runs alone"
    );
    for shown in ["upgrading to OpenSearch_2.13: PRE_UPGRADE_CHECK IN_PROGRESS", "(now upgrading)"] {
        assert!(
            run.stderr.lines().any(|l| l.contains("opensearch-domain") && l.contains(shown)),
            "{shown}:\n{}",
            run.stderr
        );
    }
    assert_eq!(h.state(PROJECT)["nodes"]["opensearch-domain"]["phase"], "ready");
}

/// Task definition drift: a revision registered by hand is left alone, a change of ours
/// registers a new revision and moves the service to it without touching its count.
/// (The seed properties on task definitions are in tests/properties.rs.)
#[test]
fn task_definition_changes_move_the_service_and_keep_its_count() {
    let h = Harness::new("plat-td", &deploy());
    h.run(&["up"]).ok();
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let describe = |family: &str| {
        block_on(ecs.describe_task_definition().task_definition(family).send()).unwrap().task_definition.unwrap()
    };

    // Someone registers a revision by hand in our family: it is not ours, so `up` neither
    // retires it nor registers again (services point at our revision).
    let td = describe(&format!("{PROJECT}-temporal-ui"));
    block_on(
        ecs.register_task_definition()
            .family(td.family().unwrap())
            .set_container_definitions(Some(td.container_definitions().to_vec()))
            .memory("512")
            .send(),
    )
    .unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
    // A change of ours (more memory) registers a new revision and retires our old one.
    std::fs::write(
        h.dir.join("deploy.yaml"),
        format!(
            "{}services:\n  ui: {{ cpu: 256, memory: 768, node_group: b, image: {} }}\n",
            deploy(),
            temporalctl_config::UI_IMAGE
        ),
    )
    .unwrap();
    // The service was scaled meanwhile: the change must not undo that.
    let cluster = format!("{PROJECT}-cluster");
    let ui = format!("{PROJECT}-temporal-ui");
    h.run(&["scale", "up", "--service", "ui", "--count", "2"]).ok();
    h.proxy.clear();
    h.run(&["up"]).ok();
    let mut ops: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    ops.sort();
    // New revision, old one retired, the service moved to it; then the end-to-end check
    // (a one-off task) proves the cluster still serves.
    assert_eq!(ops, ["DeregisterTaskDefinition", "RegisterTaskDefinition", "RunTask", "UpdateService"]);
    let new_td = describe(&ui);
    assert_eq!(new_td.memory(), Some("768"));
    let service = block_on(ecs.describe_services().cluster(&cluster).services(&ui).send()).unwrap();
    let service = &service.services()[0];
    assert_eq!(service.task_definition(), new_td.task_definition_arn());
    assert_eq!(service.desired_count(), 2, "a config change must never reset the desired count");
    let update = h.proxy.calls().into_iter().find(|c| c.operation == "UpdateService").unwrap();
    assert!(!update.body.contains("desiredCount"), "{}", update.body);
    // `down --destroy-data` removes our revisions and leaves the hand-made one alone.
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    let left = block_on(
        ecs.list_task_definitions().family_prefix(format!("{PROJECT}-temporal-ui")).status("ACTIVE".into()).send(),
    )
    .unwrap();
    assert_eq!(left.task_definition_arns().len(), 1, "{:?}", left.task_definition_arns());
}

/// Issue 27: `dsql.rate_coordination` adds the table the DSQL fork's cluster-wide limiter
/// counts in (key `pk`, on demand, TTL on `ttl_epoch`, our tags); the Temporal servers'
/// roles may `UpdateItem` on it and their task definitions name it; a second `up` changes
/// nothing; `down` removes it (coordination state, not data).
#[test]
fn rate_coordination_makes_the_limiters_table_and_down_removes_it() {
    let h = Harness::new("plat-rate", &format!("{}dsql:\n  rate_coordination: true\n", deploy()));
    h.run(&["up"]).ok();
    let table = format!("{PROJECT}-dsql-rate-limiter");
    let sdk = h.sdk();
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    block_on(async {
        let t = ddb.describe_table().table_name(&table).send().await.unwrap().table.unwrap();
        let keys: Vec<(&str, &str)> =
            t.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
        assert_eq!(keys, [("pk", "HASH")]);
        let types: Vec<(&str, &str)> =
            t.attribute_definitions().iter().map(|a| (a.attribute_name(), a.attribute_type().as_str())).collect();
        assert_eq!(types, [("pk", "S")]);
        assert_eq!(
            t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()),
            Some("PAY_PER_REQUEST")
        );
        let ttl = ddb.describe_time_to_live().table_name(&table).send().await.unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(
            (ttl.attribute_name(), ttl.time_to_live_status().map(|s| s.as_str())),
            (Some("ttl_epoch"), Some("ENABLED"))
        );
        let tags = ddb.list_tags_of_resource().resource_arn(t.table_arn().unwrap()).send().await.unwrap();
        assert!(tags.tags().iter().any(|t| t.key() == "temporalctl:project" && t.value() == PROJECT), "{tags:?}");

        // The servers' roles update that table and nothing else in DynamoDB.
        let iam = aws_sdk_iam::Client::new(&sdk);
        for role in ["history", "admin-tools"] {
            let name = format!("{PROJECT}-{role}-task");
            let policies = iam.list_role_policies().role_name(&name).send().await.unwrap();
            let mut text = String::new();
            for p in policies.policy_names() {
                let doc = iam.get_role_policy().role_name(&name).policy_name(p).send().await.unwrap();
                text.push_str(&temporalctl_aws::iam::canonical_policy(doc.policy_document()));
            }
            let updates = text.contains("dynamodb:UpdateItem") && text.contains(t.table_arn().unwrap());
            assert_eq!(updates, role == "history", "{name}: {text}");
        }
        // The servers' task definitions turn the fork's limiter on, at the shared rate.
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let td = ecs.describe_task_definition().task_definition(format!("{PROJECT}-temporal-matching")).send().await;
        let td = td.unwrap().task_definition.unwrap();
        let env: std::collections::BTreeMap<&str, &str> =
            td.container_definitions()[0].environment().iter().filter_map(|e| Some((e.name()?, e.value()?))).collect();
        assert_eq!(env.get("DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED"), Some(&"true"));
        assert_eq!(env.get("DSQL_DISTRIBUTED_RATE_LIMITER_TABLE"), Some(&table.as_str()));
        assert_eq!(env.get("DSQL_DISTRIBUTED_RATE_LIMITER_LIMIT"), Some(&"80"));
    });
    h.proxy.clear();
    // On AWS the TTL stays ENABLING for up to an hour, and a second UpdateTimeToLive then
    // fails (DynamoDB API reference): moto enables it at once, so the proxy answers as AWS
    // would for the next `up`, which must take it as set.
    h.proxy.script(
        "DescribeTimeToLive",
        None,
        Script::rewrite_json(|v| v["TimeToLiveDescription"]["TimeToLiveStatus"] = "ENABLING".into()),
    );
    h.run(&["up"]).ok();
    let mutating: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    assert!(mutating.is_empty(), "a second up changed something: {mutating:?}");
    h.proxy.unscript();
    let reads = h.proxy.operations().iter().filter(|o| o.contains("Table") || o.contains("TimeToLive")).count();
    assert!(reads <= 3, "the table is read once (DescribeTable, its TTL, its tags): {:?}", h.proxy.operations());
    let run = h.run(&["down", "--yes"]).ok();
    assert!(
        !run.stderr.lines().any(|l| l.contains("dynamodb-table/dsql-rate-limiter") && l.contains("keeping")),
        "{}",
        run.stderr
    );
    let gone = block_on(ddb.describe_table().table_name(&table).send());
    assert!(gone.is_err(), "down removes the coordination table");
}
