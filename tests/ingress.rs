//! Issue 22, part 1: the people's entrance (`ingress`), against moto through the recording
//! proxy with the real binary: an internal Application Load Balancer, HTTPS with the
//! user's certificate, HTTP redirecting, the UI and Grafana by host name; made with our
//! tags, repaired, removed when deploy.yaml drops it, and the certificate never touched.

mod support;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, ProtocolEnum};
use support::{Harness, block_on};
use temporalctl_proxy::Script;

const PROJECT: &str = "iting";

fn deploy(ingress: &str) -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{ingress}"
    )
}

fn ingress(certificate: &str) -> String {
    format!(
        "ingress:\n  ui_host: temporal.example.com\n  grafana_host: grafana.example.com\n  certificate_arn: {certificate}\n  allowed_cidrs: [10.8.0.0/16]\n"
    )
}

/// A certificate of the user's, in the emulator's ACM, for both host names.
fn certificate(h: &Harness) -> String {
    certificate_for(h, "temporal.example.com", "grafana.example.com")
}

fn certificate_for(h: &Harness, name: &str, other: &str) -> String {
    let acm = aws_sdk_acm::Client::new(&h.sdk());
    let out = block_on(
        acm.request_certificate()
            .domain_name(name)
            .subject_alternative_names(other)
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send(),
    )
    .unwrap();
    out.certificate_arn().unwrap().to_string()
}

fn operations(h: &Harness) -> Vec<String> {
    h.proxy.mutating().into_iter().map(|c| c.operation).collect()
}

/// A second `up` changes nothing, at one read per resource plus the preflight's
/// (tests/budgets.rs); `shape` names the deployment in the measured line.
fn assert_no_op_up(h: &Harness, shape: &str) -> support::Run {
    h.proxy.clear();
    let run = h.run(&["up"]).ok();
    assert_eq!(operations(h), Vec::<String>::new());
    let nodes = h.state(PROJECT)["nodes"].as_object().map(|n| n.len()).unwrap();
    let reads = h.proxy.calls().len();
    assert!(reads <= nodes + support::FIXED_READS, "{reads} reads for {nodes} resources");
    eprintln!("no-op up, {shape}: {reads} reads for {nodes} resources");
    run
}

#[test]
fn the_ingress_is_made_with_https_only_host_rules_and_our_tags_then_removed_when_dropped() {
    let h = Harness::without_images("ingress", &deploy(""));
    let cert = certificate(&h);
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress(&cert))).unwrap();
    let _ = h.build_images();
    h.proxy.clear();
    h.run(&["up"]).ok();

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&h.sdk());
    let lbs = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send()).unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.r#type().map(|t| t.as_str()), Some("application"));
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internal"), "never internet-facing without asking");
    let arn = lb.load_balancer_arn().unwrap();
    let tags = block_on(elb.describe_tags().resource_arns(arn).send()).unwrap();
    let tags = tags.tag_descriptions()[0].tags();
    assert!(tags.iter().any(|t| t.key() == Some("temporalctl:node") && t.value() == Some("load-balancer/ingress")));

    let listeners = block_on(elb.describe_listeners().load_balancer_arn(arn).send()).unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).expect("HTTPS on 443");
    assert_eq!(https.protocol(), Some(&ProtocolEnum::Https));
    assert_eq!(https.certificates()[0].certificate_arn(), Some(cert.as_str()));
    assert_eq!(https.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"));
    assert_eq!(https.default_actions()[0].r#type(), Some(&ActionTypeEnum::FixedResponse), "unknown hosts: 404");
    let http = listeners.listeners().iter().find(|l| l.port() == Some(80)).expect("HTTP on 80");
    let redirect = http.default_actions()[0].redirect_config().expect("HTTP only redirects");
    assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));

    let rules = block_on(elb.describe_rules().listener_arn(https.listener_arn().unwrap()).send()).unwrap();
    let mut routes: Vec<(String, String)> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let host = r.conditions()[0].host_header_config().unwrap().values()[0].clone();
            let tg = r.actions()[0].target_group_arn().unwrap();
            let name = tg.split('/').nth(1).unwrap().to_string();
            (host, name)
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("grafana.example.com".to_string(), format!("{PROJECT}-grafana")),
            ("temporal.example.com".to_string(), format!("{PROJECT}-ui"))
        ]
    );
    let tgs = block_on(elb.describe_target_groups().names(format!("{PROJECT}-ui")).send()).unwrap();
    assert_eq!(tgs.target_groups()[0].health_check_path(), Some("/healthz"));

    // The UI's and Grafana's services join their groups; the balancer admits only the
    // allowed networks, and the UI only the balancer.
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let services = block_on(
        ecs.describe_services()
            .cluster(format!("{PROJECT}-cluster"))
            .services(format!("{PROJECT}-ui"))
            .services(format!("{PROJECT}-grafana"))
            .send(),
    )
    .unwrap();
    for s in services.services() {
        let joined = s.load_balancers().iter().any(|b| b.target_group_arn().is_some());
        assert!(joined, "{:?} joins its target group", s.service_name());
    }
    // Grafana's links and redirects use the address people use.
    let grafana =
        block_on(ecs.describe_task_definition().task_definition(format!("{PROJECT}-grafana")).send()).unwrap();
    let env = grafana.task_definition().unwrap().container_definitions()[0].environment();
    let root = env.iter().find(|e| e.name() == Some("GF_SERVER_ROOT_URL")).and_then(|e| e.value());
    assert_eq!(root, Some("https://grafana.example.com"));
    let ec2 = h.ec2();
    let groups = block_on(ec2.describe_security_groups().send()).unwrap();
    let group = |suffix: &str| {
        groups.security_groups().iter().find(|g| g.group_name() == Some(&format!("{PROJECT}-{suffix}"))).unwrap()
    };
    let balancer_in: Vec<(i32, String)> = group("ingress-balancer")
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges().iter().map(move |r| (p.from_port().unwrap(), r.cidr_ip().unwrap().to_string())))
        .collect();
    assert_eq!(balancer_in.len(), 2, "{balancer_in:?}");
    assert!(balancer_in.iter().all(|(port, cidr)| [80, 443].contains(port) && cidr == "10.8.0.0/16"));
    let ui_from_balancer = group("ui").ip_permissions().iter().any(|p| {
        p.from_port() == Some(8080)
            && p.user_id_group_pairs().iter().any(|g| g.group_id() == group("ingress-balancer").group_id())
    });
    assert!(ui_from_balancer);

    // Seed 002's property 1 with an ingress: still private. Every balancer is internal and
    // no group admits the internet.
    let all = block_on(elb.describe_load_balancers().send()).unwrap();
    assert_eq!(all.load_balancers().len(), 2, "the frontend's and the ingress");
    assert!(all.load_balancers().iter().all(|lb| lb.scheme().map(|s| s.as_str()) == Some("internal")));
    for g in groups.security_groups() {
        for p in g.ip_permissions() {
            assert!(p.ip_ranges().iter().all(|r| r.cidr_ip() != Some("0.0.0.0/0")), "{:?}", g.group_name());
        }
    }

    // Nothing to do the second time, at one read per resource (tests/budgets.rs).
    let _ = assert_no_op_up(&h, "ingress");

    // What people came for, first; and what it costs.
    let status = h.run(&["status"]).ok();
    let dns = lb.dns_name().unwrap();
    assert!(
        status.stdout.contains(&format!("Temporal UI: https://temporal.example.com (point it at {dns})")),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("Grafana: https://grafana.example.com"), "{}", status.stdout);
    let cost = h.run(&["cost"]).ok();
    assert!(cost.stdout.contains("ingress load balancer"), "{}", cost.stdout);

    // deploy.yaml drops it: plan says so, up removes it, the certificate stays.
    std::fs::write(h.dir.join("deploy.yaml"), deploy("")).unwrap();
    let plan = h.run(&["plan"]).ok();
    for node in ["load-balancer/ingress", "listener-rule/ui", "target-group/grafana"] {
        assert!(plan.stdout.contains(node), "{node} listed for deletion:\n{}", plan.stdout);
    }
    h.proxy.clear();
    h.run(&["up"]).ok();
    let ops = operations(&h);
    assert!(ops.iter().any(|o| o == "DeleteLoadBalancer"), "{ops:?}");
    assert!(!ops.iter().any(|o| o.contains("Certificate")), "{ops:?}");
    let acm = aws_sdk_acm::Client::new(&h.sdk());
    assert!(block_on(acm.describe_certificate().certificate_arn(&cert).send()).is_ok(), "the user's certificate stays");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(operations(&h), Vec::<String>::new());
}

/// A certificate that does not exist, covers neither host name, or is not issued yet stops
/// `up` before any change, naming the field: AWS would take the second (browsers refuse it
/// later) and refuse the third only when the listener is made.
#[test]
fn a_missing_pending_or_other_names_certificate_stops_up_before_any_change() {
    let h = Harness::without_images("ingress-cert", &deploy(""));
    let missing = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000";
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress(missing))).unwrap();
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("ingress.certificate_arn") && run.stderr.contains("does not exist"), "{}", run.stderr);
    let other = certificate_for(&h, "*.example.org", "example.org");
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress(&other))).unwrap();
    h.proxy.clear();
    let run = h.run(&["up"]).code(1);
    for field in ["ingress.ui_host: temporal.example.com", "ingress.grafana_host: grafana.example.com"] {
        assert!(run.stderr.contains(field), "{field}:\n{}", run.stderr);
    }
    // The right names, still being validated, as AWS shows it for minutes to hours (the
    // tests' moto issues at once): AWS would refuse the listener (`UnsupportedCertificate`).
    let pending = certificate(&h);
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress(&pending))).unwrap();
    let still = |v: &mut serde_json::Value| v["Certificate"]["Status"] = "PENDING_VALIDATION".into();
    h.proxy.script("DescribeCertificate", None, Script::rewrite_json(still));
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("is PENDING_VALIDATION, not ISSUED"), "{}", run.stderr);
    assert!(!run.stderr.contains("ingress.ui_host"), "its names cover both hosts:\n{}", run.stderr);
    assert!(h.proxy.mutating().is_empty(), "nothing changed");
}

const CLIENT_SECRET: &str = "s3cr3t-0f-the-oidc-client";

fn login_ingress(certificate: &str) -> String {
    format!(
        "ingress:\n  ui_host: temporal.example.com\n  grafana_host: grafana.example.com\n  certificate_arn: {certificate}\n  scheme: internet-facing\n  allowed_cidrs: [0.0.0.0/0]\n  login:\n    issuer: https://example.okta.com/oauth2/default\n    authorization_endpoint: https://example.okta.com/oauth2/default/v1/authorize\n    token_endpoint: https://example.okta.com/oauth2/default/v1/token\n    user_info_endpoint: https://example.okta.com/oauth2/default/v1/userinfo\n    client_id: 0oa1b2c3d4\n    client_secret_id: temporal/oidc\n    client_secret_key: client_secret\n"
    )
}

/// The secret's version labelled AWSCURRENT.
fn current_version(sm: &aws_sdk_secretsmanager::Client) -> String {
    let out = block_on(sm.describe_secret().secret_id("temporal/oidc").send()).unwrap();
    let versions = out.version_ids_to_stages().unwrap();
    versions.iter().find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT")).unwrap().0.clone()
}

/// Issue 22, part 1: internet-facing with single sign-on. The balancer sits in public
/// subnets of two zones; every rule signs people in (`authenticate-oidc`) before it
/// forwards; the client secret is read from the user's Secrets Manager secret when a rule
/// is written and is never in the state file, the output or the record of requests (the
/// proxy also drops it from moto's answers, as AWS never returns it). A rotation shows in
/// `plan` and is sent again; `down` leaves the secret and the certificate.
#[test]
fn internet_facing_with_login_signs_people_in_and_never_keeps_the_client_secret() {
    let h = Harness::without_images("ingress-login", &deploy(""));
    let cert = certificate(&h);
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk());
    let secret = format!(r#"{{"client_secret":"{CLIENT_SECRET}"}}"#);
    block_on(sm.create_secret().name("temporal/oidc").secret_string(&secret).send()).unwrap();
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&login_ingress(&cert))).unwrap();
    let _ = h.build_images();
    h.proxy.clear();
    let up = h.run(&["up"]).ok();
    let mut seen = up.stdout + &up.stderr;

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&h.sdk());
    let lbs = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send()).unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    // In two public subnets: the NAT gateway's and a second one, in the other zone, both
    // routed to the internet gateway.
    let ec2 = h.ec2();
    let zones: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    assert_eq!(zones.len(), 2, "{zones:?}");
    let tables = block_on(ec2.describe_route_tables().send()).unwrap();
    for subnet in &zones {
        let table = tables
            .route_tables()
            .iter()
            .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet)))
            .unwrap_or_else(|| panic!("{subnet} has its own route table"));
        let default = table.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).unwrap();
        assert!(default.gateway_id().is_some_and(|g| g.starts_with("igw-")), "{subnet} is public");
    }

    // Each rule signs people in, then forwards; AWS's defaults are all sent.
    let listeners =
        block_on(elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send()).unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).unwrap();
    // Read through the proxy, which answers as AWS does.
    let elb_as_aws = aws_sdk_elasticloadbalancingv2::Client::new(&h.sdk_via_proxy());
    let rules = block_on(elb_as_aws.describe_rules().listener_arn(https.listener_arn().unwrap()).send()).unwrap();
    let ours: Vec<_> = rules.rules().iter().filter(|r| r.is_default() != Some(true)).collect();
    assert_eq!(ours.len(), 2);
    let version = current_version(&sm);
    for rule in &ours {
        let actions = rule.actions();
        assert_eq!(actions[0].r#type(), Some(&ActionTypeEnum::AuthenticateOidc));
        assert_eq!((actions[0].order(), actions[1].order()), (Some(1), Some(2)));
        assert_eq!(actions[1].r#type(), Some(&ActionTypeEnum::Forward));
        let oidc = actions[0].authenticate_oidc_config().unwrap();
        assert_eq!(oidc.client_id(), Some("0oa1b2c3d4"));
        assert_eq!(oidc.session_timeout(), Some(12 * 3600));
        assert_eq!(oidc.client_secret(), None, "AWS never returns it; nor does the proxy");
        let tags = block_on(elb.describe_tags().resource_arns(rule.rule_arn().unwrap()).send()).unwrap();
        let tags = tags.tag_descriptions()[0].tags();
        let recorded = tags.iter().find(|t| t.key() == Some("temporalctl:client-secret-version"));
        assert_eq!(recorded.and_then(|t| t.value()), Some(version.as_str()));
    }
    // Read once per rule, sent once per rule at its creation; kept nowhere.
    let reads_of_secret = |h: &Harness| {
        h.proxy.calls().iter().filter(|c| c.operation == "GetSecretValue" && c.body.contains("temporal/oidc")).count()
    };
    assert_eq!(reads_of_secret(&h), 2);
    let sent: Vec<_> = h.proxy.calls().into_iter().filter(|c| c.body.contains(".ClientSecret=")).collect();
    assert_eq!(sent.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>(), ["CreateRule", "CreateRule"]);
    assert!(sent.iter().all(|c| c.body.contains(".ClientSecret=REDACTED")));

    // The balancer admits anyone on 443 and 80 (each person signs in) and may reach the
    // provider on 443.
    let groups = block_on(ec2.describe_security_groups().group_names(format!("{PROJECT}-ingress-balancer")).send());
    let group = groups.unwrap().security_groups()[0].clone();
    let anywhere = |perms: &[aws_sdk_ec2::types::IpPermission]| -> Vec<i32> {
        let mut ports: Vec<i32> = perms
            .iter()
            .filter(|p| p.ip_ranges().iter().any(|r| r.cidr_ip() == Some("0.0.0.0/0")))
            .filter_map(|p| p.from_port())
            .collect();
        ports.sort();
        ports
    };
    assert_eq!(anywhere(group.ip_permissions()), [80, 443]);
    assert_eq!(anywhere(group.ip_permissions_egress()), [443]);
    // Seed 002's property 1 in this shape: the ingress balancer is the only thing facing
    // the internet. The frontend's balancer stays internal, and no other group admits it.
    let all = block_on(elb.describe_load_balancers().send()).unwrap();
    for other in all.load_balancers().iter().filter(|b| b.load_balancer_name() != lb.load_balancer_name()) {
        assert_eq!(other.scheme().map(|s| s.as_str()), Some("internal"), "{:?}", other.load_balancer_name());
    }
    let every = block_on(ec2.describe_security_groups().send()).unwrap();
    for g in every.security_groups().iter().filter(|g| g.group_id() != group.group_id()) {
        assert!(anywhere(g.ip_permissions()).is_empty(), "{:?} admits the internet", g.group_name());
    }

    // Nothing to do the second time.
    let again = assert_no_op_up(&h, "internet-facing with login");
    seen += &(again.stdout + &again.stderr);
    assert_eq!(reads_of_secret(&h), 0, "a no-op never reads the secret's value");

    // A rotation: plan shows it, up sends the new secret to both rules and nothing else.
    let rotated = r#"{"client_secret":"n3w-s3cr3t-0f-the-client"}"#;
    block_on(sm.put_secret_value().secret_id("temporal/oidc").secret_string(rotated).send()).unwrap();
    let plan = h.run(&["plan"]).ok();
    assert!(plan.stdout.contains("client-secret-version"), "{}", plan.stdout);
    seen += &plan.stdout;
    h.proxy.clear();
    let up = h.run(&["up"]).ok();
    seen += &(up.stdout + &up.stderr);
    let mut ops = operations(&h);
    ops.sort();
    assert_eq!(ops, ["AddTags", "AddTags", "ModifyRule", "ModifyRule"]);
    assert_eq!(reads_of_secret(&h), 2);
    assert!(
        h.proxy
            .mutating()
            .iter()
            .filter(|c| c.operation == "ModifyRule")
            .all(|c| c.body.contains(".ClientSecret=REDACTED"))
    );

    let status = h.run(&["status", "--output", "json"]).ok();
    seen += &status.stdout;
    let state = std::fs::read_to_string(h.state_path(PROJECT)).unwrap();
    for text in [&state, &seen] {
        assert!(!text.contains(CLIENT_SECRET) && !text.contains("n3w-s3cr3t"), "the client secret leaked");
    }
    assert!(h.proxy.calls().iter().all(|c| !c.body.contains("n3w-s3cr3t")));

    // Back to internal: a new balancer, with its listeners, which temporalctl does not
    // replace in cascade; `up` says so and deletes nothing. Dropping `ingress` and adding
    // it back does it (docs/ingress.md), and retires the second public subnet.
    let internal = login_ingress(&cert).replace("  scheme: internet-facing\n", "").replace("0.0.0.0/0", "10.8.0.0/16");
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&internal)).unwrap();
    h.proxy.clear();
    let refused = h.run(&["up"]).code(1);
    assert!(refused.stderr.contains("load-balancer/ingress would have to be replaced"), "{}", refused.stderr);
    assert!(!operations(&h).iter().any(|o| o.starts_with("Delete")), "{:?}", operations(&h));
    std::fs::write(h.dir.join("deploy.yaml"), deploy("")).unwrap();
    h.run(&["up"]).ok();
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&internal)).unwrap();
    h.run(&["up"]).ok();
    let lbs = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send()).unwrap();
    assert_eq!(lbs.load_balancers()[0].scheme().map(|s| s.as_str()), Some("internal"));
    assert!(h.state(PROJECT)["nodes"].get("subnet/ingress-public").is_none(), "the second public subnet is retired");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(operations(&h), Vec::<String>::new());

    // down removes ours and leaves the user's secret and certificate.
    let down = h.run(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("login-secret/ingress") || down.stderr.contains("login-secret/ingress"));
    assert!(block_on(sm.describe_secret().secret_id("temporal/oidc").send()).is_ok());
    let acm = aws_sdk_acm::Client::new(&h.sdk());
    assert!(block_on(acm.describe_certificate().certificate_arn(&cert).send()).is_ok());
    let gone = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send());
    assert!(gone.map(|o| o.load_balancers().is_empty()).unwrap_or(true));
}

/// Issue 22, part 1: with no `certificate_arn`, temporalctl requests a certificate for both
/// host names with DNS validation, shows the records to create while ACM has not issued it
/// (the proxy holds it pending, as AWS does until the records resolve), and makes the
/// HTTPS listener only once it is issued. A wait that runs out stops `up` with the records
/// and the next `up` goes on with the same certificate. `down` deletes it.
#[test]
fn a_requested_certificate_is_waited_for_with_its_records_shown_and_deleted_by_down() {
    let requested = "ingress:\n  ui_host: temporal.example.com\n  grafana_host: grafana.example.com\n  allowed_cidrs: [10.8.0.0/16]\n";
    let h = Harness::without_images("ingress-acm", &deploy(""));
    let _ = h.build_images();
    let impatient = format!("{requested}timeouts:\n  certificate: 3s\n");
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&impatient)).unwrap();
    let pending = |v: &mut serde_json::Value| v["Certificate"]["Status"] = "PENDING_VALIDATION".into();
    h.proxy.script("DescribeCertificate", None, Script::rewrite_json(pending));
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("create these DNS records in your public zone"), "{}", run.stderr);
    assert!(run.stderr.contains("temporal.example.com. CNAME"), "{}", run.stderr);
    let ops = operations(&h);
    assert_eq!(ops.iter().filter(|o| *o == "RequestCertificate").count(), 1, "{ops:?}");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&h.sdk());
    let https = |elb: &aws_sdk_elasticloadbalancingv2::Client| {
        let lbs = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send()).ok()?;
        let arn = lbs.load_balancers().first()?.load_balancer_arn()?.to_string();
        let listeners = block_on(elb.describe_listeners().load_balancer_arn(arn).send()).ok()?;
        listeners.listeners().iter().find(|l| l.port() == Some(443)).cloned()
    };
    assert!(https(&elb).is_none(), "no HTTPS listener before the certificate is issued");

    // ACM issues it (the records resolved): the next up goes on with the same certificate.
    h.proxy.unscript();
    std::fs::write(h.dir.join("deploy.yaml"), deploy(requested)).unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(!operations(&h).iter().any(|o| o == "RequestCertificate"), "{:?}", operations(&h));
    let listener = https(&elb).expect("HTTPS listener");
    let cert = listener.certificates()[0].certificate_arn().unwrap().to_string();
    let acm = aws_sdk_acm::Client::new(&h.sdk());
    let detail = block_on(acm.describe_certificate().certificate_arn(&cert).send()).unwrap().certificate.unwrap();
    assert_eq!(detail.domain_name(), Some("temporal.example.com"));
    let mut names = detail.subject_alternative_names().to_vec();
    names.sort();
    assert_eq!(names, ["grafana.example.com", "temporal.example.com"]);
    let tags = block_on(acm.list_tags_for_certificate().certificate_arn(&cert).send()).unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "temporalctl:node" && t.value() == Some("acm-certificate/ingress")));

    let _ = assert_no_op_up(&h, "a requested certificate");

    // ACM gives up on it (as after 72 hours unvalidated): up stops saying what to do;
    // plan shows it and down still works.
    let failed = |v: &mut serde_json::Value| v["Certificate"]["Status"] = "VALIDATION_TIMED_OUT".into();
    h.proxy.script("DescribeCertificate", None, Script::rewrite_json(failed));
    let stopped = h.run(&["up"]).code(1);
    assert!(
        stopped.stderr.contains("is VALIDATION_TIMED_OUT") && stopped.stderr.contains("aws acm delete-certificate"),
        "{}",
        stopped.stderr
    );
    let plan = h.run(&["plan"]).ok();
    assert!(plan.stdout.contains("VALIDATION_TIMED_OUT"), "{}", plan.stdout);

    h.proxy.clear();
    h.run(&["down", "--yes"]).ok();
    h.proxy.unscript();
    assert!(operations(&h).iter().any(|o| o == "DeleteCertificate"), "{:?}", operations(&h));
    assert!(block_on(acm.describe_certificate().certificate_arn(&cert).send()).is_err(), "ours is deleted");
}

/// Issue 22, part 1: with `hosted_zone_id`, temporalctl writes the requested certificate's
/// validation records and an alias per host name to the balancer into the user's zone. A
/// record of the user's at a host name is never overwritten: `up` stops naming it. `down`
/// deletes the aliases (they point at our balancer) and the certificate, and leaves the
/// validation records (renewals use them) and the zone.
#[test]
fn with_a_hosted_zone_the_records_are_written_and_only_ours_are_removed() {
    let h = Harness::without_images("ingress-dns", &deploy(""));
    let r53 = aws_sdk_route53::Client::new(&h.sdk());
    let zone = block_on(r53.create_hosted_zone().name("example.com").caller_reference("ingress-dns").send()).unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string();
    let record = |name: &str, value: &str| {
        let rr = aws_sdk_route53::types::ResourceRecord::builder().value(value).build().unwrap();
        let kind = match value.parse::<std::net::Ipv4Addr>() {
            Ok(_) => aws_sdk_route53::types::RrType::A,
            Err(_) => aws_sdk_route53::types::RrType::Cname,
        };
        aws_sdk_route53::types::ResourceRecordSet::builder()
            .name(name)
            .r#type(kind)
            .ttl(60)
            .resource_records(rr)
            .build()
            .unwrap()
    };
    let change = |action: aws_sdk_route53::types::ChangeAction, set| {
        let change = aws_sdk_route53::types::Change::builder().action(action).resource_record_set(set).build().unwrap();
        let batch = aws_sdk_route53::types::ChangeBatch::builder().changes(change).build().unwrap();
        block_on(r53.change_resource_record_sets().hosted_zone_id(&zone_id).change_batch(batch).send()).unwrap();
    };
    // Someone's own records at the names: an A record, a CNAME.
    change(aws_sdk_route53::types::ChangeAction::Create, record("grafana.example.com", "192.0.2.10"));
    change(aws_sdk_route53::types::ChangeAction::Create, record("temporal.example.com", "legacy.example.net"));
    let ingress = format!(
        "ingress:\n  ui_host: temporal.example.com\n  grafana_host: grafana.example.com\n  hosted_zone_id: {zone_id}\n  allowed_cidrs: [10.8.0.0/16]\n"
    );
    let _ = h.build_images();
    // A zone that does not hold the names stops up before any change, naming both.
    let other =
        block_on(r53.create_hosted_zone().name("example.org").caller_reference("ingress-dns-org").send()).unwrap();
    let other_id = other.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string();
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress.replace(&zone_id, &other_id))).unwrap();
    h.proxy.clear();
    let wrong = h.run(&["up"]).code(1);
    for field in
        ["ingress.ui_host: temporal.example.com is not in the zone", "ingress.grafana_host: grafana.example.com"]
    {
        assert!(wrong.stderr.contains(field), "{field}:\n{}", wrong.stderr);
    }
    assert!(h.proxy.mutating().is_empty(), "nothing changed");

    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress)).unwrap();
    let refused = h.run(&["up"]).code(1);
    assert!(
        refused.stderr.contains("grafana.example.com and temporal.example.com already have a record")
            && refused.stderr.contains("never overwritten"),
        "{}",
        refused.stderr
    );
    let sets = |r53: &aws_sdk_route53::Client| {
        block_on(r53.list_resource_record_sets().hosted_zone_id(&zone_id).send())
            .unwrap()
            .resource_record_sets()
            .to_vec()
    };
    let grafana = sets(&r53).into_iter().find(|s| s.name() == "grafana.example.com." && s.r#type().as_str() == "A");
    assert_eq!(
        grafana.and_then(|s| s.resource_records().first().map(|r| r.value().to_string())).as_deref(),
        Some("192.0.2.10")
    );

    // Theirs removed: up writes both aliases and the validation records.
    change(aws_sdk_route53::types::ChangeAction::Delete, record("grafana.example.com", "192.0.2.10"));
    change(aws_sdk_route53::types::ChangeAction::Delete, record("temporal.example.com", "legacy.example.net"));
    h.run(&["up"]).ok();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&h.sdk());
    let lb = block_on(elb.describe_load_balancers().names(format!("{PROJECT}-ingress")).send()).unwrap();
    let dns = lb.load_balancers()[0].dns_name().unwrap().to_string();
    let all = sets(&r53);
    for host in ["temporal.example.com.", "grafana.example.com."] {
        let alias = all.iter().find(|s| s.name() == host && s.r#type().as_str() == "A").and_then(|s| s.alias_target());
        assert_eq!(alias.map(|a| a.dns_name().trim_end_matches('.')), Some(dns.as_str()), "{host}");
    }
    let validation: Vec<_> =
        all.iter().filter(|s| s.r#type().as_str() == "CNAME").map(|s| s.name().to_string()).collect();
    assert_eq!(validation.len(), 2, "{validation:?}");

    let _ = assert_no_op_up(&h, "a requested certificate and a hosted zone");
    let status = h.run(&["status"]).ok();
    let line = format!("Temporal UI: https://temporal.example.com (alias in {zone_id} to {dns})");
    assert!(status.stdout.contains(&line), "{}", status.stdout);

    // Dropping the zone from deploy.yaml: the aliases go from the zone the state recorded,
    // the validation records stay and leave the state; nothing is left to delete.
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress.replace(&format!("  hosted_zone_id: {zone_id}\n"), "")))
        .unwrap();
    h.run(&["up"]).ok();
    let left = sets(&r53);
    assert!(!left.iter().any(|s| s.r#type().as_str() == "A"), "the aliases are gone: {left:?}");
    assert_eq!(left.iter().filter(|s| s.r#type().as_str() == "CNAME").count(), 2, "validation records stay");
    let nodes = h.state(PROJECT)["nodes"].as_object().unwrap().keys().filter(|k| k.starts_with("dns-")).count();
    assert_eq!(nodes, 0, "neither record node is left in the state");
    let plan = h.run(&["plan"]).ok();
    assert!(!plan.stdout.contains("To delete"), "{}", plan.stdout);

    // Back again, then down: the aliases are written and removed once more.
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&ingress)).unwrap();
    h.run(&["up"]).ok();
    assert_eq!(sets(&r53).iter().filter(|s| s.r#type().as_str() == "A").count(), 2);
    h.run(&["down", "--yes"]).ok();
    let left = sets(&r53);
    assert!(!left.iter().any(|s| s.r#type().as_str() == "A"), "the aliases are gone: {left:?}");
    assert_eq!(left.iter().filter(|s| s.r#type().as_str() == "CNAME").count(), 2, "validation records stay");
    assert!(block_on(r53.get_hosted_zone().id(&zone_id).send()).is_ok(), "the zone stays");
}
