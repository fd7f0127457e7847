//! The balancers as the settings sent to ELBv2: the frontend's internal Network Load
//! Balancer (its target group's health check and attributes, the listener) and the
//! people's entrance, `ingress` (see [`ingress`]). Pure, so every setting is
//! snapshot-tested and named with its reason here.
//!
//! Why these settings (AWS, Elastic Load Balancing "Network Load Balancers" guide):
//! - TCP, not TLS, on the listener: the connection passes through, so Temporal's own TLS
//!   and mTLS (`temporal.tls`) hold end to end and the balancer needs no certificate.
//! - Target type `ip`: ECS tasks in `awsvpc` mode register by their own address (Amazon
//!   ECS guide, "Use load balancing to distribute Amazon ECS service traffic").
//! - The balancer has a security group, set at creation: a Network Load Balancer made
//!   without one can never get one. With `ip` targets over TCP, client IP preservation is
//!   off, so the frontend sees the balancer's addresses and its group admits the
//!   balancer's group, never the clients' CIDRs (re:Post, "security group load balancer").
//!   `preserve_client_ip.enabled` is written anyway, so that rule cannot silently break.
//! - Deregistration delay 90 s, then connections are closed: a leaving frontend gets no
//!   new connection at once, and its open ones keep working for 90 s, longer than a
//!   worker's long poll (up to 70 s: the Go SDK's poll deadline over matching's one-minute
//!   `matching.longPollExpirationInterval`). gRPC connections are long-lived, so a poll
//!   opened late in the drain can still be cut; the SDKs retry it on a new connection,
//!   to a live task, instead of waiting on a stopped one. AWS's default, 300 s, would make
//!   every frontend rollout wait five minutes per task.
//! - Cross-zone on: without it a zone's address stays in the balancer's DNS only while the
//!   zone has a healthy frontend, so with one or two frontends the addresses change as
//!   tasks move, and clients holding an old one time out (AWS, "Cross-zone load balancing
//!   for target groups"). It costs inter-zone data transfer.
//! - Health check: TCP on the traffic port (7233), every 10 s, 3 to turn healthy or not: a
//!   Network Load Balancer has no gRPC health check (an Application Load Balancer's), and
//!   an HTTP one would need a port the frontend does not serve without TLS.

use serde::Serialize;

use crate::service_kinds::FRONTEND_GRPC_PORT;

/// How the balancer, target group and listener are made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Balancer {
    /// `network`.
    pub r#type: &'static str,
    /// `internal`: reachable only from the VPC and what is routed into it.
    pub scheme: &'static str,
    pub listener: Listener,
    pub target_group: TargetGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub protocol: &'static str,
    pub port: i32,
    /// HTTPS: the TLS policy (which protocols and ciphers clients may use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_policy: Option<&'static str>,
    /// What it does with a request no rule takes.
    pub default_action: DefaultAction,
}

/// A listener's default action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultAction {
    /// To the listener's target group.
    Forward,
    /// `301` to the same URL over HTTPS on 443.
    RedirectToHttps,
    /// `404`: a host name no rule knows.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    pub protocol: &'static str,
    pub port: i32,
    pub target_type: &'static str,
    pub health_check: HealthCheck,
    /// `ModifyTargetGroupAttributes`'s keys and values, sorted.
    pub attributes: std::collections::BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub protocol: &'static str,
    /// `traffic-port`: the port the targets are registered on.
    pub port: &'static str,
    /// HTTP: the path asked, and the status codes that mean healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_codes: Option<&'static str>,
    pub interval_seconds: i32,
    /// Under the interval: AWS's TCP default equals it (10 s), which Application Load
    /// Balancers refuse and Network Load Balancers take; set, it cannot drift.
    pub timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
}

/// Seconds a leaving frontend keeps its connections (see the module's notes).
pub const DEREGISTRATION_DELAY_SECONDS: u32 = 90;

/// How long ECS ignores the balancer's health checks of a new frontend task: a server
/// opens 7233 after its persistence and membership start, under a minute usually; twice
/// that covers a start that waits on DSQL's connection rate.
pub const HEALTH_CHECK_GRACE_SECONDS: i32 = 120;

pub fn frontend() -> Balancer {
    Balancer {
        r#type: "network",
        scheme: "internal",
        listener: Listener {
            protocol: "TCP",
            port: FRONTEND_GRPC_PORT,
            tls_policy: None,
            default_action: DefaultAction::Forward,
        },
        target_group: TargetGroup {
            protocol: "TCP",
            port: FRONTEND_GRPC_PORT,
            target_type: "ip",
            health_check: HealthCheck {
                protocol: "TCP",
                port: "traffic-port",
                path: None,
                healthy_codes: None,
                interval_seconds: 10,
                timeout_seconds: 5,
                healthy_threshold: 3,
                unhealthy_threshold: 3,
            },
            attributes: [
                ("deregistration_delay.timeout_seconds", DEREGISTRATION_DELAY_SECONDS.to_string()),
                ("deregistration_delay.connection_termination.enabled", "true".into()),
                ("preserve_client_ip.enabled", "false".into()),
                ("load_balancing.cross_zone.enabled", "true".into()),
            ]
            .into(),
        },
    }
}

/// The ingress balancer's TLS policy: AWS's recommended one, TLS 1.3 and 1.2 with
/// hybrid post-quantum key exchange (AWS, "Security policies for your Application Load
/// Balancer"). Sent always: without it the API falls back to `ELBSecurityPolicy-2016-08`,
/// which still allows TLS 1.0.
pub const INGRESS_TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09";

/// The people's entrance (`ingress`): an Application Load Balancer, HTTPS on 443 ending
/// TLS with the user's certificate, HTTP on 80 only redirecting to it, and a target group
/// each for the UI and Grafana, which the listener's rules pick by host name, each after
/// signing the person in when `ingress.login` asks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    /// `application`.
    pub r#type: &'static str,
    /// `internal` (the default: reachable from the VPC and what is routed into it) or
    /// `internet-facing` (validation refuses it without login).
    pub scheme: &'static str,
    pub https: Listener,
    pub http: Listener,
    /// By service key (`ui`, `grafana`): its target group and its rule's priority.
    pub routes: std::collections::BTreeMap<&'static str, Route>,
    /// The rules' `authenticate-oidc` action, before their forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
}

/// An `authenticate-oidc` action as sent, the client secret apart: that is read from
/// Secrets Manager only when a rule is written, and never kept (AWS never returns it
/// either: ELBv2 API reference, `AuthenticateOidcActionConfig`). Every field AWS would
/// otherwise default is sent, so what DescribeRules returns can be compared whole.
/// Flow and requirements: ELBv2 guide, "Authenticate users using an Application Load
/// Balancer" (the balancer itself calls the token and user-info endpoints, over IPv4 and
/// 443, so its group needs that egress and its subnets a way out).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub client_id: String,
    pub scope: String,
    pub session_timeout_seconds: i64,
    /// AWS's default name, sent so that it cannot drift.
    pub session_cookie_name: &'static str,
    /// `authenticate`: a browser without a session is sent to sign in (AWS's default);
    /// `deny` would answer 401, which only suits API clients.
    pub on_unauthenticated_request: &'static str,
}

impl Login {
    /// The settings by the names `plan` shows, for comparing with what AWS holds.
    pub fn settings(&self) -> std::collections::BTreeMap<String, String> {
        login_settings([
            self.issuer.clone(),
            self.authorization_endpoint.clone(),
            self.token_endpoint.clone(),
            self.user_info_endpoint.clone(),
            self.client_id.clone(),
            self.scope.clone(),
            self.session_timeout_seconds.to_string(),
            self.session_cookie_name.to_string(),
            self.on_unauthenticated_request.to_string(),
        ])
    }
}

/// A login's settings by name, from their values in this order (the order of [`Login`]'s
/// fields): what is sent and what DescribeRules returns are named in one place.
pub fn login_settings(values: [String; 9]) -> std::collections::BTreeMap<String, String> {
    const NAMES: [&str; 9] = [
        "issuer",
        "authorization-endpoint",
        "token-endpoint",
        "user-info-endpoint",
        "client-id",
        "scope",
        "session-timeout",
        "session-cookie-name",
        "on-unauthenticated-request",
    ];
    NAMES.iter().map(|n| n.to_string()).zip(values).collect()
}

pub fn login(l: &temporalctl_config::Login) -> Login {
    Login {
        issuer: l.issuer.clone(),
        authorization_endpoint: l.authorization_endpoint.clone(),
        token_endpoint: l.token_endpoint.clone(),
        user_info_endpoint: l.user_info_endpoint.clone(),
        client_id: l.client_id.clone(),
        scope: l.scope.clone(),
        session_timeout_seconds: l.session_timeout.as_secs() as i64,
        session_cookie_name: "AWSELBAuthSessionCookie",
        on_unauthenticated_request: "authenticate",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Rules are evaluated lowest first; host names do not overlap, so the order only
    /// has to be fixed.
    pub priority: i32,
    pub target_group: TargetGroup,
}

/// How a browser's target group is checked and drained. The UI server answers `GET
/// /healthz` with 200 before any login (temporalio/ui `server/server/route/health.go`);
/// Grafana `GET /api/health` (Grafana HTTP API, "Health API"). Every 15 s within 5 s, 2 to
/// turn healthy, 3 to turn unhealthy. A leaving task keeps its requests 30 s: browsers'
/// requests are short, and AWS's 300 s default would slow every rollout.
fn browser_target(port: i32, path: &'static str) -> TargetGroup {
    TargetGroup {
        protocol: "HTTP",
        port,
        target_type: "ip",
        health_check: HealthCheck {
            protocol: "HTTP",
            port: "traffic-port",
            path: Some(path),
            healthy_codes: Some("200"),
            interval_seconds: 15,
            timeout_seconds: 5,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        },
        attributes: [("deregistration_delay.timeout_seconds", "30".to_string())].into(),
    }
}

pub fn ingress(config: &temporalctl_config::Ingress) -> Ingress {
    let port = |key: &str| crate::service_kinds::service(key).port("http").expect("the UI and Grafana serve HTTP");
    Ingress {
        r#type: "application",
        scheme: config.scheme.as_str(),
        login: config.login.as_ref().map(login),
        https: Listener {
            protocol: "HTTPS",
            port: 443,
            tls_policy: Some(INGRESS_TLS_POLICY),
            default_action: DefaultAction::NotFound,
        },
        http: Listener { protocol: "HTTP", port: 80, tls_policy: None, default_action: DefaultAction::RedirectToHttps },
        routes: [
            ("ui", Route { priority: 10, target_group: browser_target(port("ui"), "/healthz") }),
            ("grafana", Route { priority: 20, target_group: browser_target(port("grafana"), "/api/health") }),
        ]
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_of_the_frontend_balancer() {
        insta::assert_json_snapshot!("balancer-frontend", frontend());
    }

    fn internal() -> temporalctl_config::Ingress {
        temporalctl_config::Ingress {
            ui_host: "temporal.example.com".into(),
            grafana_host: "grafana.example.com".into(),
            certificate_arn: Some("arn:aws:acm:us-east-1:123456789012:certificate/1".into()),
            hosted_zone_id: None,
            allowed_cidrs: Vec::new(),
            scheme: Default::default(),
            login: None,
        }
    }

    fn internet_facing_with_login() -> temporalctl_config::Ingress {
        let yaml = "issuer: https://example.okta.com/oauth2/default\nauthorization_endpoint: https://example.okta.com/oauth2/default/v1/authorize\ntoken_endpoint: https://example.okta.com/oauth2/default/v1/token\nuser_info_endpoint: https://example.okta.com/oauth2/default/v1/userinfo\nclient_id: 0oa1b2c3d4\nclient_secret_id: temporal/oidc\n";
        temporalctl_config::Ingress {
            scheme: temporalctl_config::IngressScheme::InternetFacing,
            login: Some(serde_saphyr::from_str(yaml).unwrap()),
            ..internal()
        }
    }

    #[test]
    fn snapshot_of_the_ingress_balancer() {
        insta::assert_json_snapshot!("balancer-ingress", ingress(&internal()));
        insta::assert_json_snapshot!("balancer-ingress-internet-facing-login", ingress(&internet_facing_with_login()));
    }

    /// Login with the defaults: the person is sent to sign in (never a bare 401), asked
    /// for `openid email`, and signed in for a working day, not AWS's seven.
    #[test]
    fn login_sends_browsers_to_sign_in_for_a_working_day() {
        let l = ingress(&internet_facing_with_login()).login.unwrap();
        assert_eq!(l.on_unauthenticated_request, "authenticate");
        assert_eq!(l.scope, "openid email");
        assert_eq!(l.session_timeout_seconds, 12 * 3600);
        assert!(l.settings().values().all(|v| !v.is_empty()), "every setting sent, none left to AWS's default");
    }

    /// Nothing reaches the UI or Grafana in clear text: HTTP only redirects, HTTPS has a
    /// TLS 1.2+ policy, and the target groups check what each server answers.
    #[test]
    fn the_ingress_serves_https_only_and_checks_each_server_s_health_path() {
        let i = ingress(&internal());
        assert_eq!(
            (i.http.default_action, i.https.default_action),
            (DefaultAction::RedirectToHttps, DefaultAction::NotFound)
        );
        assert!(i.https.tls_policy.is_some_and(|p| p.contains("TLS13-1-2")), "TLS 1.2 and 1.3 only");
        assert_eq!(i.routes["ui"].target_group.port, 8080);
        assert_eq!(i.routes["grafana"].target_group.health_check.path, Some("/api/health"));
        let priorities: std::collections::BTreeSet<i32> = i.routes.values().map(|r| r.priority).collect();
        assert_eq!(priorities.len(), i.routes.len(), "a listener's rules need distinct priorities");
    }

    /// The property the delay exists for: polls in flight finish before the frontend goes.
    #[test]
    fn a_leaving_frontend_outlasts_a_long_poll() {
        const LONG_POLL_SECONDS: u32 = 70;
        let b = frontend();
        let delay: u32 = b.target_group.attributes["deregistration_delay.timeout_seconds"].parse().unwrap();
        assert!(delay > LONG_POLL_SECONDS && delay < 300, "{delay}");
        assert_eq!(b.listener.protocol, "TCP", "TLS passes through to the frontend");
        assert_eq!(b.target_group.port, b.listener.port);
    }
}
