//! The eight ECS services and the admin tools, and the facts everything else derives from:
//! ports, Service Connect role, scale wave, whether it runs Temporal.

/// How a service takes part in Service Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Discoverable as `temporal-<name>` on its gRPC port, and a client of the others.
    ClientServer,
    /// Reaches the discoverable services, is not itself discoverable.
    ClientOnly,
    None,
}

#[derive(Debug, Clone, Copy)]
pub struct ServiceKind {
    /// `history`, `matching`, … (the key in deploy.yaml).
    pub key: &'static str,
    /// Container name; also the log stream prefix.
    pub container: &'static str,
    /// The Temporal role (`TEMPORAL_SERVICES`), for the four server services.
    pub temporal_role: Option<&'static str>,
    /// (port name, container port).
    pub ports: &'static [(&'static str, i32)],
    pub connect: Connect,
    /// Scale-up wave (seed 002's order); `down` goes in reverse.
    pub wave: u8,
}

impl ServiceKind {
    pub fn is_temporal(&self) -> bool {
        self.temporal_role.is_some()
    }
    pub fn port(&self, name: &str) -> Option<i32> {
        self.ports.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
    /// The Service Connect / DNS name other services use.
    pub fn discovery_name(&self) -> String {
        format!("temporal-{}", self.key)
    }
}

pub const SERVICES: &[ServiceKind] = &[
    ServiceKind {
        key: "history",
        container: "temporal-history",
        temporal_role: Some("history"),
        ports: &[("grpc", 7234), ("membership", 6934), ("metrics", 9090)],
        connect: Connect::ClientServer,
        wave: 1,
    },
    ServiceKind {
        key: "matching",
        container: "temporal-matching",
        temporal_role: Some("matching"),
        ports: &[("grpc", 7235), ("membership", 6935), ("metrics", 9090)],
        connect: Connect::ClientServer,
        wave: 1,
    },
    ServiceKind {
        key: "frontend",
        container: "temporal-frontend",
        temporal_role: Some("frontend"),
        ports: &[("grpc", 7233), ("membership", 6933), ("metrics", 9090)],
        connect: Connect::ClientServer,
        wave: 2,
    },
    // Temporal's API for its own parts (Temporal >= 1.20): the internal worker finds it
    // through membership, never through `publicClient`, and it is served on internode TLS
    // without authorization, so system workflows need no token. Only the Temporal services'
    // groups reach it (docs/network-flows.md).
    ServiceKind {
        key: "internal_frontend",
        container: "temporal-internal-frontend",
        temporal_role: Some("internal-frontend"),
        ports: &[("grpc", 7236), ("membership", 6936), ("metrics", 9090)],
        connect: Connect::ClientOnly,
        wave: 2,
    },
    ServiceKind {
        key: "worker",
        container: "temporal-worker",
        temporal_role: Some("worker"),
        ports: &[("grpc", 7239), ("membership", 6939), ("metrics", 9090)],
        connect: Connect::ClientOnly,
        wave: 3,
    },
    ServiceKind {
        key: "ui",
        container: "temporal-ui",
        temporal_role: None,
        ports: &[("http", 8080)],
        connect: Connect::ClientOnly,
        wave: 3,
    },
    ServiceKind {
        key: "grafana",
        container: "grafana",
        temporal_role: None,
        ports: &[("http", 3000)],
        connect: Connect::None,
        wave: 4,
    },
    ServiceKind {
        key: "adot",
        container: "adot-collector",
        temporal_role: None,
        ports: &[],
        // It scrapes each task at its own address (documents::adot), not through names.
        connect: Connect::None,
        wave: 4,
    },
];

/// The container of the one-off tasks (schema and namespace steps); not a service.
pub const ADMIN_TOOLS: ServiceKind = ServiceKind {
    key: "admin-tools",
    container: "temporal-admin-tools",
    temporal_role: None,
    ports: &[],
    connect: Connect::None,
    wave: 0,
};

/// The one-off task's CPU units and MiB: the tools are small and short-lived.
pub const ADMIN_TOOLS_SIZE: (u32, u32) = (256, 512);

/// Whose security group the one-off tasks use: the frontend's reaches DSQL, OpenSearch
/// (443) and the frontend (7233). Their rights are their own role's (`task_role`
/// of `admin-tools`), so no runtime role is sized for schema administration.
pub const ONE_OFF_IDENTITY: &str = "frontend";
/// Whose node group runs the one-off tasks: the worker's has the most room.
pub const ONE_OFF_PLACEMENT: &str = "worker";

/// The services by scale-up wave, first wave first (`down` goes in reverse).
pub fn waves() -> Vec<Vec<&'static ServiceKind>> {
    let last = SERVICES.iter().map(|s| s.wave).max().unwrap_or(0);
    (1..=last).map(|w| SERVICES.iter().filter(|s| s.wave == w).collect()).filter(|w: &Vec<_>| !w.is_empty()).collect()
}

/// Each service kind with its section of deploy.yaml, joined by key (never by position:
/// reordering either list must not swap settings).
pub fn configured(
    d: &temporalctl_config::Deploy,
) -> impl Iterator<Item = (&'static ServiceKind, &temporalctl_config::Service)> {
    SERVICES
        .iter()
        .map(move |kind| (kind, d.services.get(kind.key).expect("deploy.yaml has a section for every service kind")))
}

pub fn service(key: &str) -> &'static ServiceKind {
    SERVICES.iter().chain([&ADMIN_TOOLS]).find(|s| s.key == key).expect("known service")
}

/// Task-to-task ranges among the five Temporal services (gRPC and membership).
pub const TEMPORAL_GRPC_RANGE: (i32, i32) = (7233, 7239);
pub const TEMPORAL_MEMBERSHIP_RANGE: (i32, i32) = (6933, 6939);
pub const METRICS_PORT: i32 = 9090;
/// Where workers and clients call the frontend (its `grpc` port), through the balancer too.
pub const FRONTEND_GRPC_PORT: i32 = 7233;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_balancer_s_port_is_the_frontend_s_grpc_port() {
        assert_eq!(service("frontend").port("grpc"), Some(FRONTEND_GRPC_PORT));
    }

    #[test]
    fn every_kind_has_its_config_section_and_every_section_a_kind() {
        let d = temporalctl_config::parse(
            "version: 1\nproject: demo\nregion: eu-west-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "deploy.yaml",
        )
        .unwrap();
        let joined: Vec<&str> = configured(&d).map(|(k, _)| k.key).collect();
        let sections: Vec<&str> = d.services.iter().map(|(key, _)| key).collect();
        assert_eq!(joined.len(), sections.len());
        assert!(sections.iter().all(|s| joined.contains(s)), "{sections:?} vs {joined:?}");
    }

    #[test]
    fn waves_follow_seed_002() {
        let keys: Vec<Vec<&str>> = waves().iter().map(|w| w.iter().map(|s| s.key).collect()).collect();
        assert_eq!(
            keys,
            vec![
                vec!["history", "matching"],
                vec!["frontend", "internal_frontend"],
                vec!["worker", "ui"],
                vec!["grafana", "adot"]
            ]
        );
    }
}
