//! Semantic checks: everything AWS (or Temporal) would reject later, said now, all at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Deploy, Problem, SCHEMA_VERSION, network};

/// CloudWatch Logs accepts only these retention periods.
pub const LOG_RETENTION_DAYS: &[u32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// OpenSearch domain names are at most 28 characters; ours is `<project>-visibility`.
const MAX_PROJECT_LEN: usize = 28 - "-visibility".len();

pub fn validate(d: &Deploy) -> Result<(), Vec<Problem>> {
    let mut p = Vec::new();
    if d.version != SCHEMA_VERSION {
        p.push(Problem::new(
            "version",
            format!("schema version {} is not supported; this temporalctl reads version {SCHEMA_VERSION}", d.version),
        ));
    }
    check_project(&d.project, &mut p);
    check_reserved_prefix(&d.project, &mut p);
    check_dsql_region(d, &mut p);
    check_region(&d.region, &mut p);
    check_tags(d, &mut p);
    match &d.network.existing {
        Some(existing) => check_existing_network(d, existing, &mut p),
        None => {
            check_zones(d, &mut p);
            if let Err(mut more) = network::network_layout(d) {
                p.append(&mut more);
            }
        }
    }
    if let Some(id) = &d.dsql.existing_cluster {
        check_existing_cluster(d, id, &mut p);
    }
    check_endpoints(d, &mut p);
    check_compute(d, &mut p);
    p.extend(crate::dsql_budget::counts_problems(d, &crate::capacity::counts_from_config(d)));
    check_rest(d, &mut p);
    if p.is_empty() { Ok(()) } else { Err(p) }
}

fn check_project(project: &str, p: &mut Vec<Problem>) {
    let ok_chars = project.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts = project.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if project.len() < 3
        || project.len() > MAX_PROJECT_LEN
        || !ok_chars
        || !starts
        || project.ends_with('-')
        || project.contains("--")
    {
        p.push(Problem::new(
            "project",
            format!(
                "`{project}` is not a usable project name: use 3 to {MAX_PROJECT_LEN} lowercase letters, digits and single hyphens, starting with a letter (it names every resource, and `<project>-visibility` must fit OpenSearch's 28-character limit)"
            ),
        ));
    }
}

/// `temporal.version` is the tag of our images in ECR, where tags are immutable: one tag
/// names one build forever, so a tag that is meant to move (`latest`) cannot be one.
fn check_temporal_version(version: &str, p: &mut Vec<Problem>) {
    if !crate::image::is_tag(version) {
        p.push(Problem::new(
            "temporal.version",
            format!("{version:?} is not an image tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'"),
        ));
    } else if version == "latest" {
        p.push(Problem::new(
            "temporal.version",
            format!("`latest` cannot name our images: their ECR tags are immutable, so a tag names one build forever; name the version you build, e.g. {}", crate::TEMPORAL_VERSION),
        ));
    }
}

/// Authorization is chosen, never defaulted: a JWKS URL, or `allow_no_auth: true` written
/// out. With tokens, the UI needs an OIDC login to have tokens to send.
fn check_authorization(t: &crate::Temporal, p: &mut Vec<Problem>) {
    let a = &t.authorization;
    const WHY: &str = "the frontend checks callers' JWTs against your identity provider's keys";
    match (&a.jwks_url, a.allow_no_auth) {
        (None, false) => p.push(Problem::new(
            "temporal.authorization",
            format!("choose who may call the frontend: name your identity provider's JWKS URL in temporal.authorization.jwks_url ({WHY}), or write temporal.authorization.allow_no_auth: true to let every caller that reaches it (and holds a client certificate, with temporal.tls.enabled) do anything"),
        )),
        (Some(_), true) => p.push(Problem::new(
            "temporal.authorization.allow_no_auth",
            "allow_no_auth: true contradicts jwks_url; remove one of them",
        )),
        _ => {}
    }
    if let Some(url) = &a.jwks_url {
        check_https_url("temporal.authorization.jwks_url", url, p);
        if !t.tls.enabled {
            p.push(Problem::new(
                "temporal.authorization.jwks_url",
                "tokens need temporal.tls.enabled: without TLS every bearer token crosses the network in plain text, and the internal frontend (which asks no token) would admit any caller in the Temporal services' groups",
            ));
        }
        if a.ui.is_none() {
            p.push(Problem::new(
                "temporal.authorization.ui",
                "with jwks_url set the UI must log users in to have tokens to send: name the OIDC issuer_url, client_id and client_secret_arn of the UI's client",
            ));
        }
    }
    if let Some(claim) = &a.permissions_claim
        && (claim.is_empty() || claim.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        p.push(Problem::new("temporal.authorization.permissions_claim", "a claim name: no spaces, not empty"));
    }
    for (key, set) in [("permissions_claim", a.permissions_claim.is_some()), ("audience", a.audience.is_some())] {
        if set && a.jwks_url.is_none() {
            p.push(Problem::new(
                format!("temporal.authorization.{key}"),
                "only means something with jwks_url: without it no token is checked",
            ));
        }
    }
    if let Some(ui) = &a.ui {
        if a.jwks_url.is_none() {
            p.push(Problem::new(
                "temporal.authorization.ui",
                "UI login needs jwks_url: without authorization the frontend ignores the UI's tokens",
            ));
        }
        check_https_url("temporal.authorization.ui.issuer_url", &ui.issuer_url, p);
        if !ui.callback_url.starts_with("https://") && !ui.callback_url.starts_with("http://localhost:") {
            p.push(Problem::new(
                "temporal.authorization.ui.callback_url",
                "https://…, or http://localhost:<port>/… for the UI forwarded by `temporalctl connect ui`",
            ));
        }
        if ui.client_id.is_empty() || ui.client_id.chars().any(char::is_control) {
            p.push(Problem::new(
                "temporal.authorization.ui.client_id",
                "the OIDC client id your identity provider gave the UI",
            ));
        }
        if !is_secret_arn(&ui.client_secret_arn) {
            p.push(Problem::new(
                "temporal.authorization.ui.client_secret_arn",
                "the ARN of a Secrets Manager secret holding the client secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>); never the secret itself",
            ));
        }
        if !ui.scopes.iter().any(|s| s == "openid") {
            p.push(Problem::new("temporal.authorization.ui.scopes", "OIDC needs the `openid` scope"));
        }
        // The UI joins them with commas into one variable and splits them again.
        if ui
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(',') || s.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            p.push(Problem::new("temporal.authorization.ui.scopes", "each scope one word: no commas or spaces"));
        }
    }
}

fn check_https_url(path: &str, url: &str, p: &mut Vec<Problem>) {
    let host = url.strip_prefix("https://").map(|rest| rest.split(['/', ':', '?']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        p.push(Problem::new(path, format!("{url:?} is not an https:// URL; tokens and keys travel only over TLS")));
    }
}

/// `arn:aws:secretsmanager:<region>:<12 digits>:secret:<name>` (any partition).
fn is_secret_arn(arn: &str) -> bool {
    is_arn(arn, "secretsmanager", "secret:")
}

/// `arn:<partition>:<service>:<region>:<12 digits>:<resource_prefix><name>`.
fn is_arn(arn: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == service
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix(resource_prefix)
            .is_some_and(|name| !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// Every dynamic config key Temporal registers (generated: scripts/dynamic-config-keys).
const DYNAMIC_CONFIG_KEYS: &str = include_str!("dynamic_config_keys.txt");

/// Temporal matches keys without regard to case and only warns of a key it does not
/// register, which then does nothing: a misspelt key would be a silent no-op, so it is
/// refused here with the closest real one. Temporal refuses to start on an empty or
/// mistyped constraint; the types take care of the names.
fn check_dynamic_config(config: &BTreeMap<String, Vec<crate::DynamicValue>>, p: &mut Vec<Problem>) {
    let known: Vec<String> = DYNAMIC_CONFIG_KEYS.lines().filter(|l| !l.starts_with('#')).map(String::from).collect();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (key, values) in config {
        let path = format!("temporal.dynamic_config.{key}");
        if !known.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            // Compared in lower case, as Temporal compares them.
            let lower: Vec<String> = known.iter().map(|k| k.to_lowercase()).collect();
            let hint = crate::suggest::closest(key, &lower)
                .and_then(|l| known.iter().find(|k| k.to_lowercase() == l))
                .map_or("check the name in Temporal's common/dynamicconfig/constants.go".to_string(), |k| {
                    format!("did you mean `{k}`?")
                });
            p.push(Problem::new(
                path.clone(),
                format!("not a dynamic config key Temporal registers (1.29 and the DSQL fork), so the servers would ignore it; {hint}"),
            ));
        }
        if let Some(first) = seen.insert(key.to_lowercase(), key) {
            p.push(Problem::new(
                path.clone(),
                format!("Temporal reads keys without regard to case, and `{first}` is the same key: keep one"),
            ));
        }
        if values.is_empty() {
            p.push(Problem::new(path.clone(), "give at least one value: `- value: …`"));
        }
        for (i, v) in values.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if v.value.is_null() {
                p.push(Problem::new(format!("{at}.value"), "a value is needed (Temporal reads null as no value)"));
            }
            let c = &v.constraints;
            for (name, text) in [
                ("namespace", &c.namespace),
                ("namespaceID", &c.namespace_id),
                ("taskQueueName", &c.task_queue_name),
                ("historyTaskType", &c.history_task_type),
                ("destination", &c.destination),
            ] {
                if text.as_ref().is_some_and(|t| t.is_empty() || t.chars().any(char::is_control)) {
                    p.push(Problem::new(
                        format!("{at}.constraints.{name}"),
                        "a name: not empty, no control characters",
                    ));
                }
            }
        }
    }
}

/// The certificates come from the deployment's own authority, or from the user's AWS
/// Private CA when one is named.
fn check_tls(tls: &crate::Tls, p: &mut Vec<Problem>) {
    let Some(arn) = &tls.private_ca_arn else { return };
    if !is_arn(arn, "acm-pca", "certificate-authority/") {
        p.push(Problem::new(
            "temporal.tls.private_ca_arn",
            format!("{arn:?} is not the ARN of an AWS Private CA (arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>)"),
        ));
    }
    if !tls.enabled {
        p.push(Problem::new(
            "temporal.tls.private_ca_arn",
            "names where TLS certificates come from, but temporal.tls.enabled is false: enable TLS or remove it",
        ));
    }
}

/// Temporal itself only limits a namespace name to 1000 bytes (`validateNamespace` in
/// its frontend's `workflow_handler.go`, `limit.maxIDLength`). We ask for less, because
/// the name enters the namespace step's shell script, the server's YAML and logs: letters,
/// digits, `.`, `_` and `-`, starting with a letter or digit.
fn check_namespace_name(name: &str, p: &mut Vec<Problem>) {
    let starts = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !starts || !chars || name.len() > 1000 {
        p.push(Problem::new(
            "temporal.namespace.name",
            format!(
                "{name:?} is not a namespace name temporalctl accepts: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 1000 characters"
            ),
        ));
    }
}

/// OpenSearch's index name rules (`MetadataCreateIndexService.validateIndexOrAliasName`
/// and `validateIndexName`: lowercase, no `\ / * ? " < > | , # :` or space, not starting
/// with `_ - +`, at most 255 bytes, not `.` or `..`), narrowed to what a name in the
/// server's YAML needs no quoting for: lowercase letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
fn check_index_name(index: &str, p: &mut Vec<Problem>) {
    let starts = index.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars = index.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !starts || !chars || index.len() > 255 {
        p.push(Problem::new(
            "opensearch.visibility_index",
            format!(
                "{index:?} is not an OpenSearch index name temporalctl accepts: use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 255 characters"
            ),
        ));
    }
}

/// ECS rejects capacity provider names (`<project>-node-a`) that start with these.
const RESERVED_PREFIXES: &[&str] = &["aws", "ecs", "fargate"];

fn check_reserved_prefix(project: &str, p: &mut Vec<Problem>) {
    // EC2 rejects security group names of the form `sg-*`, and ours are `<project>-…`.
    if project.starts_with("sg-") {
        p.push(Problem::new(
            "project",
            format!("`{project}` starts with `sg-`, which EC2 refuses in security group names (ours are `<project>-<role>`); choose another project name"),
        ));
    }
    // ELBv2 refuses balancer names starting `internal-` (CreateLoadBalancer, `Name`), and
    // the frontend's is `<project>-frontend`.
    if project.starts_with("internal-") {
        p.push(Problem::new(
            "project",
            format!("`{project}` starts with `internal-`, which Elastic Load Balancing refuses in balancer names (the frontend's is `<project>-frontend`); choose another project name"),
        ));
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|r| project.starts_with(**r)) {
        p.push(Problem::new(
            "project",
            format!(
                "`{project}` starts with `{prefix}`, which ECS reserves: capacity providers are named `<project>-node-a`; choose a project name that does not start with aws, ecs or fargate"
            ),
        ));
    }
}

fn check_region(region: &str, p: &mut Vec<Problem>) {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !shaped {
        p.push(Problem::new("region", format!("`{region}` is not an AWS region name; write it like us-east-1")));
    }
}

/// Regions offering Aurora DSQL, from the AWS General Reference (DSQL endpoints), 2025.
pub const DSQL_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-4",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
];

fn check_dsql_region(d: &Deploy, p: &mut Vec<Problem>) {
    let malformed = p.iter().any(|x| x.path == "region");
    if !malformed && d.dsql.region_check && !DSQL_REGIONS.contains(&d.region.as_str()) {
        p.push(Problem::new(
            "region",
            format!(
                "Aurora DSQL is not offered in {} (it is in {}); choose one of those, or set dsql.region_check: false if AWS has added {} since",
                d.region,
                DSQL_REGIONS.join(", "),
                d.region
            ),
        ));
    }
}

/// An OpenSearch domain takes at most 10 tags (AWS, OpenSearch API reference, AddTags);
/// temporalctl puts 4 on it: Name, temporalctl:project, temporalctl:node and the
/// visibility step's temporalctl:step/visibility.
const MAX_EXTRA_TAGS: usize = 10 - 4;

/// The characters every service we tag accepts in tag keys and values (AWS, "Tagging
/// best practices": letters, digits and spaces, and `_ . : / = + - @`).
fn tag_chars_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

fn check_tags(d: &Deploy, p: &mut Vec<Problem>) {
    for (k, v) in &d.tags {
        let path = format!("tags.{k}");
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("temporalctl:") || k == "Name" {
            p.push(Problem::new(path, format!("tag key `{k}` is reserved (aws:, temporalctl: and Name are set by AWS or temporalctl); choose another key")));
        } else if k.is_empty() || k.chars().count() > 128 {
            p.push(Problem::new(path, "tag keys must be 1 to 128 characters"));
        } else if v.chars().count() > 256 {
            p.push(Problem::new(path, "tag values must be at most 256 characters"));
        } else if !tag_chars_ok(k) || !tag_chars_ok(v) {
            p.push(Problem::new(
                path,
                "tag keys and values may hold only letters, digits, spaces and _ . : / = + - @ (what IAM, ECS, DSQL and OpenSearch all accept)",
            ));
        }
    }
    if d.tags.len() > MAX_EXTRA_TAGS {
        p.push(Problem::new(
            "tags",
            format!(
                "{} extra tags, at most {MAX_EXTRA_TAGS}: the OpenSearch domain takes 10 tags and temporalctl sets 4 of them (Name, temporalctl:project, temporalctl:node, temporalctl:step/visibility)",
                d.tags.len()
            ),
        ));
    }
}

fn check_zones(d: &Deploy, p: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, zone) in d.network.availability_zones.iter().enumerate() {
        let path = format!("network.availability_zones[{i}]");
        let suffix = zone.strip_prefix(d.region.as_str());
        let letter_ok = suffix.is_some_and(|s| s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase()));
        if !letter_ok {
            p.push(Problem::new(path, format!("`{zone}` is not a zone of {}; write it like {}a", d.region, d.region)));
        } else if !seen.insert(zone) {
            p.push(Problem::new(path, format!("`{zone}` is listed twice; each private subnet needs its own zone")));
        }
    }
    if d.network.availability_zones.len() > 6 {
        p.push(Problem::new("network.availability_zones", "at most 6 availability zones"));
    }
}

/// `vpc-`/`subnet-` and 8 or 17 hex digits, as EC2 names them.
fn is_ec2_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Well-formed subnet ids, none listed twice.
fn check_subnet_ids(field: &str, ids: &[String], which: &str, p: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let path = format!("{field}[{i}]");
        if !is_ec2_id(id, "subnet") {
            p.push(Problem::new(path, format!("`{id}` is not a subnet id; they look like subnet-0123456789abcdef0")));
        } else if !seen.insert(id) {
            p.push(Problem::new(path, format!("`{id}` is listed twice; name one {which} subnet per zone")));
        }
    }
}

/// `network.existing`: well-formed ids, two or more distinct private subnets, and none of
/// the fields that describe a network temporalctl builds. Whether the subnets exist, sit
/// in the VPC, in distinct zones, and have a way out is preflight's to check on AWS.
fn check_existing_network(d: &Deploy, e: &crate::ExistingNetwork, p: &mut Vec<Problem>) {
    if !is_ec2_id(&e.vpc_id, "vpc") {
        p.push(Problem::new(
            "network.existing.vpc_id",
            format!("`{}` is not a VPC id; they look like vpc-0123456789abcdef0", e.vpc_id),
        ));
    }
    check_subnet_ids("network.existing.private_subnet_ids", &e.private_subnet_ids, "private", p);
    for (i, id) in e.public_subnet_ids.iter().enumerate() {
        if e.private_subnet_ids.contains(id) {
            p.push(Problem::new(
                format!("network.existing.public_subnet_ids[{i}]"),
                format!("`{id}` is also named as a private subnet; a subnet is one or the other"),
            ));
        }
    }
    if !(2..=6).contains(&e.private_subnet_ids.len()) {
        p.push(Problem::new(
            "network.existing.private_subnet_ids",
            format!(
                "{} subnet(s) named; name 2 to 6 private subnets, each in its own availability zone (the services and their instances spread across zones)",
                e.private_subnet_ids.len()
            ),
        ));
    }
    const BUILT: &str =
        "describes the network temporalctl builds; with network.existing your VPC decides it: leave it out";
    let n = &d.network;
    let defaults = crate::Network::default();
    let given = [
        ("network.vpc_cidr", n.vpc_cidr != defaults.vpc_cidr),
        ("network.availability_zones", !n.availability_zones.is_empty()),
        ("network.private_subnet_cidrs", !n.private_subnet_cidrs.is_empty()),
        ("network.public_subnet_cidr", n.public_subnet_cidr.is_some()),
        ("network.ingress_public_subnet_cidr", n.ingress_public_subnet_cidr.is_some()),
    ];
    for (field, _) in given.iter().filter(|(_, set)| *set) {
        p.push(Problem::new(*field, BUILT));
    }
    if n.s3_gateway_endpoint == Some(true) {
        p.push(Problem::new(
            "network.s3_gateway_endpoint",
            "a gateway endpoint writes routes into your route tables, which temporalctl never changes; add one yourself (it is free) or leave this out",
        ));
    }
}

/// A host name a certificate and a host-header rule can name: lowercase labels of letters,
/// digits and inner hyphens, at least two, 253 characters at most (ELBv2 host conditions:
/// 128).
fn is_host_name(host: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= 128 && host.contains('.') && host.split('.').all(label_ok)
}

/// `ingress`: two distinct host names, an ACM certificate of the deployment's region, and
/// who may connect.
fn check_ingress(d: &Deploy, ingress: &crate::Ingress, p: &mut Vec<Problem>) {
    for (field, host) in [("ingress.ui_host", &ingress.ui_host), ("ingress.grafana_host", &ingress.grafana_host)] {
        if !is_host_name(host) {
            p.push(Problem::new(
                field,
                format!("`{host}` is not a host name; write it lowercase with its domain, like temporal.example.com"),
            ));
        }
    }
    if ingress.ui_host == ingress.grafana_host {
        p.push(Problem::new(
            "ingress.grafana_host",
            "the UI and Grafana are told apart by host name: give each its own (e.g. temporal.example.com and grafana.example.com)",
        ));
    }
    match &ingress.certificate_arn {
        Some(arn) => check_certificate_arn(d, arn, p),
        // ACM, RequestCertificate: the domain name (the certificate's subject) is 64
        // characters at most; the other name goes in the subject alternative names.
        None if ingress.ui_host.len() > 64 => p.push(Problem::new(
            "ingress.ui_host",
            "a certificate's main name is 64 characters at most (ACM); use a shorter host name, or request a certificate yourself and name it in ingress.certificate_arn",
        )),
        None => {}
    }
    if let Err(problems) = crate::ingress_clients(d) {
        p.extend(problems);
    }
    // ELBv2, CreateLoadBalancer: an Application Load Balancer needs subnets in two zones.
    if d.network.existing.is_none() && network::availability_zones(d).len() < 2 {
        p.push(Problem::new(
            "network.availability_zones",
            "the ingress balancer needs subnets in two availability zones at least; list two or more",
        ));
    }
    if let Some(zone) = &ingress.hosted_zone_id {
        let id = zone.strip_prefix("/hostedzone/").unwrap_or(zone);
        // Route 53's ids are uppercase letters and digits (`Z0123…`; the API takes up to 32).
        let shaped = (1..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !shaped {
            p.push(Problem::new(
                "ingress.hosted_zone_id",
                format!("`{zone}` is not a Route 53 hosted zone id; they look like Z0123456789ABCDEFGHIJ (`aws route53 list-hosted-zones`)"),
            ));
        }
    }
    let public = ingress.scheme == crate::IngressScheme::InternetFacing;
    if public && ingress.login.is_none() {
        p.push(Problem::new(
            "ingress.scheme",
            "an internet-facing balancer puts the UI and Grafana, which let anyone who reaches them act on every workflow, before the internet: add ingress.login (single sign-on through your identity provider), or make it internal and reach it over your VPN",
        ));
    }
    if let Some(login) = &ingress.login {
        check_login(d, login, p);
    }
    if let Some(existing) = &d.network.existing {
        check_public_subnets(existing, public, p);
    }
}

/// A user-given certificate: an ACM ARN of the deployment's region.
fn check_certificate_arn(d: &Deploy, arn: &str, p: &mut Vec<Problem>) {
    // arn:<partition>:acm:<region>:<account>:certificate/<id>
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let shaped = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "acm"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("certificate/").is_some_and(|id| !id.is_empty());
    if !shaped {
        p.push(Problem::new(
            "ingress.certificate_arn",
            format!(
                "`{}` is not an ACM certificate ARN; they look like arn:aws:acm:{}:123456789012:certificate/<id> (`aws acm list-certificates`)",
                arn, d.region
            ),
        ));
    } else if parts[3] != d.region {
        p.push(Problem::new(
            "ingress.certificate_arn",
            format!(
                "the certificate is in {}, and a load balancer in {} can only use one of its own region; request or import it in {}",
                parts[3], d.region, d.region
            ),
        ));
    }
}

/// `ingress.login`: the provider's endpoints as HTTPS URLs (the balancer calls the token
/// and user-info ones itself and trusts only public certificates: ELBv2 "Authenticate
/// users using an Application Load Balancer"), the client, and a secret of this region.
fn check_login(d: &Deploy, login: &crate::Login, p: &mut Vec<Problem>) {
    let urls = [
        ("ingress.login.issuer", &login.issuer),
        ("ingress.login.authorization_endpoint", &login.authorization_endpoint),
        ("ingress.login.token_endpoint", &login.token_endpoint),
        ("ingress.login.user_info_endpoint", &login.user_info_endpoint),
    ];
    for (field, url) in urls {
        let host = url.strip_prefix("https://").map(|rest| rest.split(['/', ':']).next().unwrap_or_default());
        if !host.is_some_and(|h| h.contains('.')) {
            p.push(Problem::new(
                field,
                format!(
                    "`{url}` is not an https:// URL; copy it from your provider's /.well-known/openid-configuration"
                ),
            ));
        }
    }
    if login.client_id.trim().is_empty() {
        p.push(Problem::new("ingress.login.client_id", "give the client (application) id your provider issued"));
    }
    let secret = &login.client_secret_id;
    if secret.trim().is_empty() {
        p.push(Problem::new(
            "ingress.login.client_secret_id",
            "name the Secrets Manager secret that holds the client secret (aws secretsmanager create-secret --name … --secret-string …)",
        ));
    } else if let Some(rest) = secret.strip_prefix("arn:") {
        let region = rest.split(':').nth(2).unwrap_or_default();
        if !rest.contains(":secretsmanager:") {
            p.push(Problem::new(
                "ingress.login.client_secret_id",
                format!(
                    "`{secret}` is not a Secrets Manager secret; give its name or its arn:aws:secretsmanager:… ARN"
                ),
            ));
        } else if region != d.region {
            p.push(Problem::new(
                "ingress.login.client_secret_id",
                format!(
                    "the secret is in {region}; temporalctl reads it in {}: replicate it there or name a secret of {}",
                    d.region, d.region
                ),
            ));
        }
    }
    if login.scope.split_whitespace().next().is_none() {
        p.push(Problem::new("ingress.login.scope", "ask for `openid` at least"));
    }
    // ELBv2 AuthenticateOidcActionConfig: SessionTimeout, 1 s to 7 days.
    let timeout = login.session_timeout.as_secs();
    if !(1..=604_800).contains(&timeout) {
        p.push(Problem::new("ingress.login.session_timeout", "give 1s to 7d (e.g. 12h)"));
    }
}

/// `network.existing.public_subnet_ids`: two or more for an internet-facing balancer, none
/// otherwise. Whether they are public, and in distinct zones, is preflight's to check.
fn check_public_subnets(e: &crate::ExistingNetwork, internet_facing: bool, p: &mut Vec<Problem>) {
    let field = "network.existing.public_subnet_ids";
    if !internet_facing && !e.public_subnet_ids.is_empty() {
        p.push(Problem::new(
            field,
            "only an internet-facing ingress balancer uses public subnets; leave them out or set ingress.scheme: internet-facing",
        ));
        return;
    }
    if internet_facing && e.public_subnet_ids.len() < 2 {
        p.push(Problem::new(
            field,
            "an internet-facing balancer sits in public subnets of two zones at least; name two (each with a default route to an internet gateway)",
        ));
    }
    check_subnet_ids(field, &e.public_subnet_ids, "public", p);
}

/// DSQL names clusters with 26 lowercase letters and digits.
fn check_existing_cluster(d: &Deploy, id: &str, p: &mut Vec<Problem>) {
    let shaped = id.len() == 26 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !shaped {
        p.push(Problem::new(
            "dsql.existing_cluster",
            format!(
                "`{id}` is not a DSQL cluster identifier (26 lowercase letters and digits, the first part of its endpoint <identifier>.dsql.{}.on.aws); `aws dsql list-clusters` lists yours",
                d.region
            ),
        ));
    }
}

fn check_endpoints(d: &Deploy, p: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, name) in d.network.interface_endpoints.iter().enumerate() {
        let path = format!("network.interface_endpoints[{i}]");
        let shaped = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && !name.starts_with("com.amazonaws");
        if !shaped {
            p.push(Problem::new(path, format!("`{name}` is not an endpoint service suffix; write the part after com.amazonaws.<region>., e.g. ecr.api")));
        } else if name == "s3" {
            p.push(Problem::new(
                path,
                "s3 is reached through the gateway endpoint; set network.s3_gateway_endpoint instead",
            ));
        } else if !seen.insert(name) {
            p.push(Problem::new(path, format!("`{name}` is listed twice")));
        }
    }
}

fn check_compute(d: &Deploy, p: &mut Vec<Problem>) {
    let mut workloads = BTreeSet::new();
    for (name, g) in d.node_groups.iter() {
        let path = format!("node_groups.{name}");
        if !(g.min_size <= g.desired_capacity && g.desired_capacity <= g.max_size) {
            p.push(Problem::new(
                format!("{path}.desired_capacity"),
                format!(
                    "needs min_size <= desired_capacity <= max_size (now {} <= {} <= {})",
                    g.min_size, g.desired_capacity, g.max_size
                ),
            ));
        }
        if g.max_size > 100 {
            p.push(Problem::new(format!("{path}.max_size"), "at most 100 instances per node group"));
        }
        if !is_instance_type(&g.instance_type) {
            p.push(Problem::new(format!("{path}.instance_type"), not_an_instance_type(&g.instance_type)));
        } else if !is_graviton(&g.instance_type) {
            p.push(Problem::new(
                format!("{path}.instance_type"),
                format!(
                    "`{}` is not a Graviton (arm64) type; the task definitions are ARM64, use e.g. m7g.large",
                    g.instance_type
                ),
            ));
        }
        if g.workload.is_empty() || !g.workload.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            p.push(Problem::new(
                format!("{path}.workload"),
                "use letters, digits, - or _ (it becomes an ECS instance attribute)",
            ));
        } else if !workloads.insert(&g.workload) {
            p.push(Problem::new(
                format!("{path}.workload"),
                format!("workload `{}` is used by two node groups", g.workload),
            ));
        }
        if !(8..=16384).contains(&g.root_volume_gb) {
            p.push(Problem::new(format!("{path}.root_volume_gb"), "root volume must be 8 to 16384 GiB"));
        }
    }
    for (name, s) in d.services.iter() {
        let path = format!("services.{name}");
        if !(128..=16384).contains(&s.cpu) {
            p.push(Problem::new(
                format!("{path}.cpu"),
                format!("{} CPU units is outside 128..16384 (1024 = one vCPU)", s.cpu),
            ));
        }
        if !(128..=122880).contains(&s.memory) {
            p.push(Problem::new(format!("{path}.memory"), format!("{} MiB is outside 128..122880", s.memory)));
        }
        if s.count > 100 {
            p.push(Problem::new(
                format!("{path}.count"),
                format!("{} replicas is more than 100; is that a typo?", s.count),
            ));
        }
        if !["a", "b", "c"].contains(&s.node_group.as_str()) {
            p.push(Problem::new(
                format!("{path}.node_group"),
                format!("`{}` is not a node group; use a, b or c", s.node_group),
            ));
        }
        match s.image.as_deref() {
            Some(i) if i.trim().is_empty() => {
                p.push(Problem::new(format!("{path}.image"), "empty image; remove the key to use the default"))
            }
            Some(i) => {
                if let Err(why) = crate::image::Reference::parse(i) {
                    p.push(Problem::new(format!("{path}.image"), format!("{i:?} is not an image reference: {why}")));
                }
            }
            None => {}
        }
    }
}

fn check_rest(d: &Deploy, p: &mut Vec<Problem>) {
    if !LOG_RETENTION_DAYS.contains(&d.logs.retention_days) {
        let near = LOG_RETENTION_DAYS.iter().min_by_key(|v| v.abs_diff(d.logs.retention_days)).copied().unwrap_or(7);
        p.push(Problem::new(
            "logs.retention_days",
            format!(
                "CloudWatch Logs does not accept {} days; the nearest accepted value is {near}",
                d.logs.retention_days
            ),
        ));
    }
    if !(1..=16384).contains(&d.temporal.history_shards) {
        p.push(Problem::new(
            "temporal.history_shards",
            "history shards must be 1 to 16384 (and cannot change after the schema is created)",
        ));
    }
    check_dsql_pool(&d.dsql.pool, p);
    check_state(&d.state, p);
    // Checked with the balancer off too: `up` builds its nodes to delete them.
    if let Err(problems) = crate::frontend_clients(d) {
        p.extend(problems.into_iter().filter(|problem| problem.path.starts_with("frontend.")));
    }
    if let Some(ingress) = &d.ingress {
        check_ingress(d, ingress, p);
    }
    if d.rollout.failed_tasks == 0 {
        p.push(Problem::new("rollout.failed_tasks", "at least 1: a wave stops after this many of its tasks failed"));
    }
    check_namespace_name(&d.temporal.namespace.name, p);
    check_authorization(&d.temporal, p);
    check_tls(&d.temporal.tls, p);
    check_dynamic_config(&d.temporal.dynamic_config, p);
    check_temporal_version(&d.temporal.version, p);
    check_index_name(&d.opensearch.visibility_index, p);
    if d.temporal.namespace.retention_days == 0 {
        p.push(Problem::new("temporal.namespace.retention_days", "retention must be at least 1 day"));
    }
    if d.opensearch.instance_count == 0 {
        p.push(Problem::new("opensearch.instance_count", "at least one data node"));
    }
    check_opensearch_layout(d, p);
    if let Some(ec2_type) = d.opensearch.instance_type.strip_suffix(".search")
        && !is_instance_type(ec2_type)
    {
        p.push(Problem::new("opensearch.instance_type", not_an_instance_type(&d.opensearch.instance_type)));
    }
    if !d.opensearch.instance_type.ends_with(".search") {
        p.push(Problem::new(
            "opensearch.instance_type",
            format!(
                "`{}` is not an OpenSearch instance type; they end in .search, e.g. t3.small.search",
                d.opensearch.instance_type
            ),
        ));
    }
    for (key, value) in [
        ("timeouts.nat_gateway", d.timeouts.nat_gateway),
        ("timeouts.vpc_endpoint", d.timeouts.vpc_endpoint),
        ("timeouts.opensearch", d.timeouts.opensearch),
        ("timeouts.opensearch_change", d.timeouts.opensearch_change),
        ("timeouts.dsql", d.timeouts.dsql),
        ("timeouts.load_balancer", d.timeouts.load_balancer),
        ("timeouts.delete_dependencies", d.timeouts.delete_dependencies),
        ("timeouts.container_instances", d.timeouts.container_instances),
        ("timeouts.one_off_task", d.timeouts.one_off_task),
        ("timeouts.service_stable", d.timeouts.service_stable),
        ("timeouts.default", d.timeouts.default),
    ] {
        if value.is_zero() {
            p.push(Problem::new(key, "a deadline must be longer than zero"));
        }
    }
}

/// An S3 backend names a bucket S3 would accept (AWS, "General purpose bucket naming
/// rules": 3 to 63 lowercase letters, digits, dots and hyphens, a letter or digit at both
/// ends, no `..`, not an IP address) and a key.
fn check_state(s: &crate::State, p: &mut Vec<Problem>) {
    if s.backend == crate::StateBackend::Local {
        return;
    }
    match s.bucket.as_deref() {
        None => p.push(Problem::new(
            "state.bucket",
            "`backend: s3` needs a bucket: name one, then run `temporalctl state init` to make it",
        )),
        Some(b) => {
            let chars = b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let ip = b.split('.').count() == 4 && b.split('.').all(|o| o.parse::<u8>().is_ok());
            if !(3..=63).contains(&b.len())
                || !chars
                || !ends(b.chars().next())
                || !ends(b.chars().last())
                || b.contains("..")
                || ip
            {
                p.push(Problem::new(
                    "state.bucket",
                    format!("`{b}` is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"),
                ));
            }
        }
    }
    if s.key.as_deref().is_some_and(|k| k.is_empty() || k.starts_with('/') || k.len() > 1000) {
        p.push(Problem::new(
            "state.key",
            "an object key of 1 to 1000 characters, not starting with `/`, e.g. `temporal/prod.json`",
        ));
    }
    if s.keep_versions_days == 0 {
        p.push(Problem::new(
            "state.keep_versions_days",
            "at least 1: the versions are the state's history and its undo",
        ));
    }
}

/// DSQL ends every session after one hour (AWS, "Cluster quotas and database limits in
/// Amazon Aurora DSQL"): a pool must recycle its connections before DSQL cuts them.
fn check_dsql_pool(pool: &crate::DsqlPool, p: &mut Vec<Problem>) {
    if pool.max_conns == 0 {
        p.push(Problem::new("dsql.pool.max_conns", "a pool needs at least one connection"));
    }
    if pool.max_idle_conns > pool.max_conns {
        p.push(Problem::new(
            "dsql.pool.max_idle_conns",
            format!(
                "{} idle connections exceed max_conns {}; lower it to at most max_conns",
                pool.max_idle_conns, pool.max_conns
            ),
        ));
    }
    // Rendered in whole seconds, where 0 would mean "wait forever" / "no limit".
    let second = std::time::Duration::from_secs(1);
    if pool.connect_timeout < second {
        p.push(Problem::new("dsql.pool.connect_timeout", "a connect timeout of at least 1s, e.g. 30s"));
    }
    let session_limit = std::time::Duration::from_secs(60 * 60);
    if pool.max_conn_lifetime < second || pool.max_conn_lifetime >= session_limit {
        p.push(Problem::new(
            "dsql.pool.max_conn_lifetime",
            "DSQL ends sessions after one hour: recycle connections sooner, with a duration from 1s to 59m (default 5m)",
        ));
    }
}

/// The shape of an EC2 instance type, `<family>.<size>`: a family of letters, a
/// generation digit and attribute letters (m7g, c6gn, r8gd), and a size EC2 knows. The
/// region's offerings are checked online by the preflight.
pub fn is_instance_type(instance_type: &str) -> bool {
    let Some((family, size)) = instance_type.split_once('.') else { return false };
    let family_ok = family.len() >= 2
        && family.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && family.chars().any(|c| c.is_ascii_digit())
        && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    family_ok && is_instance_size(size)
}

/// EC2's sizes: nano to xlarge, `<n>xlarge`, `metal` and `metal-<n>xl`.
fn is_instance_size(size: &str) -> bool {
    const NAMED: &[&str] = &["nano", "micro", "small", "medium", "large", "xlarge", "metal"];
    let multiple = |n: &str| n.parse::<u32>().is_ok_and(|n| (2..=448).contains(&n)) && !n.starts_with('0');
    NAMED.contains(&size)
        || size.strip_suffix("xlarge").is_some_and(multiple)
        || size.strip_prefix("metal-").and_then(|s| s.strip_suffix("xl")).is_some_and(multiple)
}

fn not_an_instance_type(instance_type: &str) -> String {
    format!(
        "`{instance_type}` is not an EC2 instance type: write `<family>.<size>` with a size EC2 has (nano, micro, small, medium, large, xlarge, 2xlarge … 48xlarge, metal), e.g. m7g.large"
    )
}

/// Graviton families carry a `g` after the generation digit: m7g, c6gn, t4g, r8gd.
fn is_graviton(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    let Some(digit) = family.find(|c: char| c.is_ascii_digit()) else {
        return false;
    };
    instance_type.contains('.') && family[digit + 1..].starts_with('g')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_types_are_checked_for_shape() {
        for good in ["m7g.large", "c6gn.16xlarge", "r8gd.metal", "t4g.nano", "m7g.metal-48xl", "u-6tb1.112xlarge"] {
            assert!(is_instance_type(good), "{good}");
        }
        for bad in
            ["m7g.huge", "m7g", "m7g.0xlarge", "m7g.1xlarge", "M7G.large", "large", "m.large", "m7g.xlarge.search"]
        {
            assert!(!is_instance_type(bad), "{bad}");
        }
    }

    #[test]
    fn gp3_ratios_are_checked_against_the_volume_and_the_iops() {
        let problems = |extra: &str| {
            let text = format!(
                "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\nopensearch:\n{extra}"
            );
            match crate::parse(&text, "t") {
                Ok(_) => Vec::new(),
                Err(e) => e.problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>(),
            }
        };
        assert!(problems("  iops: 5000\n").is_empty(), "500 IOPS per GiB of the default 10 GiB");
        let too_many = problems("  iops: 6000\n");
        assert!(too_many.len() == 1 && too_many[0].contains("volume_size_gb to 12"), "{too_many:?}");
        let too_fast = problems("  throughput_mibps: 1000\n");
        assert!(too_fast.len() == 1 && too_fast[0].contains("opensearch.iops to 4000"), "{too_fast:?}");
        assert!(problems("  iops: 4000\n  throughput_mibps: 1000\n").is_empty());
        assert!(problems("  iops: 3000\n  volume_size_gb: 5\n").is_empty(), "the baseline holds at any size");
    }

    #[test]
    fn tag_characters_are_what_every_service_accepts() {
        assert!(tag_chars_ok("cost-center: team/a_b=c+d@e.f"));
        assert!(tag_chars_ok("Ünïcode letters"));
        assert!(!tag_chars_ok("a<b>"));
        assert!(!tag_chars_ok("quote\"d"));
    }
}

/// Zones, dedicated masters and gp3 performance: what AWS would refuse, or spread unevenly
/// (Amazon OpenSearch Service Developer Guide, "Configuring a multi-AZ domain" and
/// "Dedicated master nodes"; the API's ClusterConfig and EBSOptions).
fn check_opensearch_layout(d: &Deploy, p: &mut Vec<Problem>) {
    let os = &d.opensearch;
    if !(1..=3).contains(&os.zones) {
        p.push(Problem::new("opensearch.zones", format!("{} zones: choose 1 (development), 2 or 3", os.zones)));
        return;
    }
    let zones = u32::from(os.zones);
    if os.instance_count > 0 && os.instance_count % zones != 0 {
        p.push(Problem::new(
            "opensearch.instance_count",
            format!(
                "{} data nodes do not spread evenly over {zones} zones (opensearch.zones): use a multiple of {zones}, e.g. {}",
                os.instance_count,
                os.instance_count.div_ceil(zones) * zones
            ),
        ));
    }
    let subnets = match &d.network.existing {
        Some(existing) => existing.private_subnet_ids.len(),
        None => network::availability_zones(d).len(),
    };
    if usize::from(os.zones) > subnets {
        p.push(Problem::new(
            "opensearch.zones",
            format!("{} zones, but the network has {subnets} private subnet(s): one per zone is needed", os.zones),
        ));
    }
    if let Some(master) = &os.dedicated_master {
        if master.count != 3 && master.count != 5 {
            p.push(Problem::new(
                "opensearch.dedicated_master.count",
                format!("{} masters: use 3 or 5, an odd number, so a quorum survives a lost node", master.count),
            ));
        }
        if !master.instance_type.ends_with(".search") {
            p.push(Problem::new(
                "opensearch.dedicated_master.instance_type",
                format!(
                    "`{}` is not an OpenSearch instance type; they end in .search, e.g. m6g.large.search",
                    master.instance_type
                ),
            ));
        }
    }
    if let Some(iops) = os.iops.filter(|i| !(3000..=16000).contains(i)) {
        p.push(Problem::new("opensearch.iops", format!("{iops}: gp3 takes 3000 to 16000 IOPS per node")));
    }
    if let Some(t) = os.throughput_mibps.filter(|t| !(125..=1000).contains(t)) {
        p.push(Problem::new("opensearch.throughput_mibps", format!("{t}: gp3 takes 125 to 1000 MiB/s per node")));
    }
    // gp3's ratios (Amazon EBS User Guide, "General Purpose SSD volumes"): at most 500
    // IOPS per GiB, and 0.25 MiB/s of throughput per IOPS.
    // (gp3's baseline 3000 holds at any size.)
    let (iops, mibps) = (os.iops.unwrap_or(3000), os.throughput_mibps.unwrap_or(125));
    if u64::from(iops) > (500 * u64::from(os.volume_size_gb)).max(3000) {
        p.push(Problem::new(
            "opensearch.iops",
            format!(
                "{iops} IOPS on {} GiB: gp3 allows 500 per GiB; raise opensearch.volume_size_gb to {} or lower the IOPS",
                os.volume_size_gb,
                iops.div_ceil(500)
            ),
        ));
    }
    if os.throughput_mibps.is_some() && mibps * 4 > iops {
        p.push(Problem::new(
            "opensearch.throughput_mibps",
            format!(
                "{mibps} MiB/s with {iops} IOPS: gp3 allows 0.25 MiB/s per IOPS; set opensearch.iops to {} or more",
                mibps * 4
            ),
        ));
    }
}
