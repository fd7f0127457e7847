//! Aurora DSQL's connection quotas against what the topology opens. AWS, "Cluster quotas
//! and database limits in Amazon Aurora DSQL": at most 10,000 open connections per cluster
//! (the default; adjustable), 100 new connections per second (not adjustable) with a
//! burst of 1,000, and one hour per session. Past them a connect fails with
//! `CONFIGURED_LIMIT_EXCEEDED (53400)`.
//!
//! Every Temporal task holds one pool of `dsql.pool.max_conns` connections (the servers'
//! only SQL store: visibility is OpenSearch) and replaces each connection once it is
//! `dsql.pool.max_conn_lifetime` old, so the steady rate of new connections is the open
//! connections divided by that lifetime. A task opens its pool when it starts, so a cold
//! start of every service (instances replaced, or all tasks restarted at once) and a
//! rolling restart (ECS starts up to `maximumPercent` of a service's tasks at once) each
//! open whole pools in a moment.

use crate::capacity::{self, Counts};
use crate::{Deploy, Problem};

/// Open connections a cluster allows (the default quota).
pub const MAX_OPEN: u32 = 10_000;
/// New connections a second, not adjustable.
pub const RATE_PER_SECOND: u32 = 100;
/// New connections at once, on top of the rate.
pub const BURST: u32 = 1_000;
/// The share of the rate the steady state may use: the rest is for restarts, scaling and
/// reconnects after failures.
pub const STEADY_SHARE_PERCENT: u32 = 50;

/// Connections of a one-off step (schema, namespace): the fork's `temporal-dsql-tool` opens
/// one, with no pool (iw/temporal `tools/dsql/db.go`, one statement per transaction).
pub const STEP_CONNECTIONS: u32 = 1;

/// The Temporal services, each holding a pool.
const POOLED: [&str; 5] = ["history", "matching", "frontend", "internal_frontend", "worker"];

/// What the topology asks of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// (service, replicas, open connections).
    pub services: Vec<(&'static str, u32, u32)>,
    /// All pools full, and a one-off step.
    pub open: u32,
    /// New connections a second while nothing starts: the pools' ÷ their lifetime.
    pub steady_per_second: f64,
    /// Every pool opened at once.
    pub cold_start: u32,
    /// The largest rolling restart: (service, connections opened at once).
    pub largest_restart: (&'static str, u32),
    /// `dsql.rate_coordination`: every open waits its turn in a shared table.
    pub coordinated: bool,
}

impl Budget {
    pub fn of(d: &Deploy, counts: &Counts) -> Budget {
        let pool = d.dsql.pool.max_conns;
        let services: Vec<(&'static str, u32, u32)> = POOLED
            .iter()
            .map(|k| {
                let n = counts.get(k).copied().unwrap_or(0);
                (*k, n, n * pool)
            })
            .collect();
        let pools: u32 = services.iter().map(|(_, _, c)| c).sum();
        let open = pools + STEP_CONNECTIONS;
        let lifetime = d.dsql.pool.max_conn_lifetime.as_secs_f64().max(1.0);
        // ECS starts (maximumPercent − 100)% of the tasks at once, at least one.
        let largest_restart = services
            .iter()
            .map(|(k, n, _)| {
                let (_, max_percent) = capacity::rollout(d, k, counts);
                let at_once = (n * (max_percent.max(100) as u32 - 100)).div_ceil(100).max(u32::from(*n > 0));
                (*k, at_once * pool)
            })
            .max_by_key(|(_, c)| *c)
            .unwrap_or(("history", 0));
        // A step runs while the services are at 0 (schema first): in `open`, not in a start.
        Budget {
            services,
            open,
            steady_per_second: f64::from(pools) / lifetime,
            cold_start: pools,
            largest_restart,
            coordinated: d.dsql.rate_coordination,
        }
    }

    /// The steady rate allowed: a share of the cluster's.
    pub fn steady_limit() -> f64 {
        f64::from(RATE_PER_SECOND * STEADY_SHARE_PERCENT) / 100.0
    }

    /// One line per quota with its headroom, for `plan` and `status`.
    pub fn lines(&self) -> Vec<String> {
        let (service, restart) = self.largest_restart;
        let mut lines = vec![
            format!("open connections {} of {MAX_OPEN} ({} left)", self.open, MAX_OPEN.saturating_sub(self.open)),
            format!(
                "new connections {:.1}/s steady of {:.0}/s allowed ({RATE_PER_SECOND}/s quota)",
                self.steady_per_second,
                Self::steady_limit()
            ),
            format!("burst {} at a cold start, {restart} restarting {service}, of {BURST}", self.cold_start),
        ];
        if self.coordinated {
            lines.push(format!("opens shared across every task through DynamoDB at {}/s", coordinated_rate()));
        } else if self.cold_start > BURST / 2 {
            lines.push("tight: a cold start takes over half the burst; dsql.rate_coordination: true spreads every start at a shared rate".into());
        }
        lines
    }
}

/// Whether the deployment can run `counts` (deploy.yaml's, or those a `scale` asks for):
/// the node groups must hold them and DSQL must take their connections.
pub fn counts_problems(d: &Deploy, counts: &Counts) -> Vec<Problem> {
    capacity::check(d, counts).into_iter().chain(check(d, counts)).collect()
}

/// Problems with the counts `counts` (deploy.yaml's, or those a `scale` asks for).
pub fn check(d: &Deploy, counts: &Counts) -> Vec<Problem> {
    let b = Budget::of(d, counts);
    let pool = d.dsql.pool.max_conns;
    let replicas: Vec<String> = b.services.iter().map(|(k, n, _)| format!("{k} {n}")).collect();
    let shape = format!("{} replicas × {pool} connections", replicas.join(", "));
    let mut problems = Vec::new();
    if b.open > MAX_OPEN {
        problems.push(Problem::new(
            "dsql.pool.max_conns",
            format!(
                "{shape} hold {} open connections, over the cluster's {MAX_OPEN}; lower dsql.pool.max_conns to {} or fewer, or run fewer replicas (or raise the quota with AWS first)",
                b.open,
                largest_pool(MAX_OPEN, &b)
            ),
        ));
    }
    // With coordination every open waits its turn in the shared table: a start of any
    // size is spread at the coordinated rate instead of landing at once.
    if b.cold_start > BURST && !d.dsql.rate_coordination {
        problems.push(Problem::new(
            "dsql.pool.max_conns",
            format!(
                "{shape} open {} connections when every service starts at once, over DSQL's burst of {BURST} new connections (then {RATE_PER_SECOND}/s, not adjustable): connects fail with CONFIGURED_LIMIT_EXCEEDED; lower dsql.pool.max_conns to {} or fewer, run fewer replicas, or share the rate across tasks with dsql.rate_coordination: true",
                b.cold_start,
                largest_pool(BURST, &b)
            ),
        ));
    }
    if b.steady_per_second > Budget::steady_limit() {
        let lifetime = d.dsql.pool.max_conn_lifetime.as_secs();
        // The pools' connections are the ones replaced (a step's lives only as long as it).
        let pooled = b.cold_start;
        let needed = (f64::from(pooled) / Budget::steady_limit()).ceil() as u64;
        problems.push(Problem::new(
            "dsql.pool.max_conn_lifetime",
            format!(
                "{pooled} pooled connections replaced every {lifetime}s make {:.1} new connections a second, over the {:.0}/s kept for steady use ({STEADY_SHARE_PERCENT}% of DSQL's {RATE_PER_SECOND}/s); raise dsql.pool.max_conn_lifetime to {needed}s or more (under DSQL's 1-hour session limit), or open fewer connections",
                b.steady_per_second,
                Budget::steady_limit()
            ),
        ));
    }
    problems
}

/// Each Temporal task's share of the cluster's connection rate and burst, for the DSQL
/// fork's per-task limiter (`DSQL_CONNECTION_RATE_LIMIT`, `DSQL_CONNECTION_BURST_LIMIT`:
/// integers, new connections a second and at once, per process; iw/temporal
/// `sqlplugin/dsql/connection_rate_limiter.go`, whose own defaults, 10/s and 100, add up
/// past the cluster's limits beyond ten tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    pub rate: u32,
    pub burst: u32,
    /// The tasks the cluster's limits are shared over ([`most_pooled_tasks`]).
    pub tasks: u32,
}

/// The share of the cluster's rate and burst the tasks' limits add up to; the rest is for
/// the one-off steps and for connections the limiter does not see.
pub const TASK_SHARE_PERCENT: u32 = 80;

pub fn task_limits(d: &Deploy) -> TaskLimits {
    let tasks = most_pooled_tasks(d).max(1);
    let share = |limit: u32| (limit * TASK_SHARE_PERCENT / 100 / tasks).max(1);
    TaskLimits { rate: share(RATE_PER_SECOND), burst: share(BURST), tasks }
}

/// With `dsql.rate_coordination`, the new connections a second all tasks share through the
/// table: the same share of the cluster's rate.
pub fn coordinated_rate() -> u32 {
    RATE_PER_SECOND * TASK_SHARE_PERCENT / 100
}

/// The most Temporal tasks that can ever run at once, whatever `scale` is asked: [`check`]
/// admits no more than the burst divided by the pool (the open connections, with
/// coordination), and the node groups (`capacity::check`)
/// no more than fit at `max_size`, counting in each group its smallest Temporal task by CPU,
/// memory and task slots (with trunking, the most). Limits shared over this many hold for
/// every count, so a `scale` never needs new task definitions.
pub fn most_pooled_tasks(d: &Deploy) -> u32 {
    // With coordination the burst is no limit (`check`): the open connections are.
    let admitted = if d.dsql.rate_coordination { MAX_OPEN } else { BURST };
    let by_budget = admitted / d.dsql.pool.max_conns.max(1);
    let mut by_groups = Some(0);
    for (group, g) in d.node_groups.iter() {
        let pooled: Vec<_> =
            POOLED.iter().filter_map(|k| d.services.get(k)).filter(|s| s.node_group == group).collect();
        let (Some(cpu), Some(memory)) =
            (pooled.iter().map(|s| s.cpu.max(1)).min(), pooled.iter().map(|s| s.memory.max(1)).min())
        else {
            continue;
        };
        by_groups = match (by_groups, capacity::shape(&g.instance_type)) {
            (Some(n), Some(shape)) => {
                let slots = shape.tasks_with_trunking.max(shape.tasks_without_trunking);
                Some(n + g.max_size * (shape.cpu_units / cpu).min(shape.memory_mib / memory).min(slots))
            }
            _ => None,
        };
    }
    by_groups.map_or(by_budget, |n| n.min(by_budget))
}

/// The largest pool size that keeps `limit` with these replicas.
fn largest_pool(limit: u32, b: &Budget) -> u32 {
    let replicas: u32 = b.services.iter().map(|(_, n, _)| n).sum();
    limit / replicas.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(extra: &str) -> Deploy {
        let text = format!(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}"
        );
        serde_saphyr::from_str(&text).unwrap()
    }

    fn with_counts(d: &Deploy, n: u32) -> Counts {
        let mut c = capacity::counts_from_config(d);
        for k in POOLED {
            c.insert(k, n);
        }
        c
    }

    #[test]
    fn the_defaults_use_a_small_share_of_every_quota() {
        let d = deploy("");
        let b = Budget::of(&d, &capacity::counts_from_config(&d));
        // Five services, one task each, 20 connections each, replaced every 5 minutes.
        assert_eq!((b.open, b.cold_start), (101, 100));
        assert!((b.steady_per_second - 100.0 / 300.0).abs() < 1e-9);
        assert!(check(&d, &capacity::counts_from_config(&d)).is_empty());
        assert_eq!(b.lines()[0], "open connections 101 of 10000 (9899 left)");
    }

    #[test]
    fn too_many_replicas_break_the_burst_before_the_open_limit() {
        let d = deploy("");
        // 5 × 10 × 20 = 1000: exactly the burst.
        assert!(check(&d, &with_counts(&d, 10)).is_empty());
        let p = check(&d, &with_counts(&d, 11));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "dsql.pool.max_conns");
        assert!(p[0].message.contains("open 1100 connections when every service starts at once"), "{}", p[0].message);
        assert!(p[0].message.contains("lower dsql.pool.max_conns to 18 or fewer"), "{}", p[0].message);
        // 40 replicas: 4000 open, far past the burst.
        let p = check(&d, &with_counts(&d, 40));
        assert!(p.iter().any(|p| p.message.contains("4000")), "{p:?}");
    }

    /// The largest count `scale up --count N` can give every service.
    fn largest_uniform_count(d: &Deploy) -> u32 {
        (1..).take_while(|n| check(d, &with_counts(d, *n)).is_empty()).last().unwrap_or(0)
    }

    /// docs/operations.md's worked examples: the defaults and seed 004's production sizing.
    #[test]
    fn the_worked_examples_of_the_docs() {
        let d = deploy("");
        assert_eq!(largest_uniform_count(&d), 10);
        let production: Deploy =
            serde_saphyr::from_str(include_str!("../../../docs/examples/production.yaml")).unwrap();
        let counts = capacity::counts_from_config(&production);
        let b = Budget::of(&production, &counts);
        // history 4, matching 3, frontend 2, internal frontend 2, worker 2: 13 pools of 20.
        assert_eq!((b.open, b.cold_start), (261, 260));
        assert!((b.steady_per_second - 260.0 / 300.0).abs() < 1e-9);
        assert!(check(&production, &counts).is_empty());
        assert_eq!(largest_uniform_count(&production), 10);
    }

    /// Shared over the most tasks that can ever run, the tasks' limits add up to no more
    /// than their share of the cluster's, for the defaults and seed 004's sizing.
    #[test]
    fn the_tasks_limits_add_up_inside_the_clusters() {
        let production: Deploy =
            serde_saphyr::from_str(include_str!("../../../docs/examples/production.yaml")).unwrap();
        for (d, tasks) in [(deploy(""), 32), (production, 50)] {
            let l = task_limits(&d);
            assert_eq!(l.tasks, tasks);
            assert!(l.rate * l.tasks <= RATE_PER_SECOND * TASK_SHARE_PERCENT / 100, "{l:?}");
            assert!(l.burst * l.tasks <= BURST * TASK_SHARE_PERCENT / 100, "{l:?}");
            assert!(l.rate >= 1 && l.burst >= 1);
            // No count the checks admit runs more tasks than the limits were shared over.
            let n = largest_uniform_count(&d);
            let running = n * POOLED.len() as u32;
            assert!(running <= l.tasks || !capacity::check(&d, &with_counts(&d, n)).is_empty(), "{running} > {l:?}");
        }
        // docs/operations.md: the defaults, two new connections a second and 25 at once per
        // task; seed 004's sizing, one and 16.
        assert_eq!((task_limits(&deploy("")).rate, task_limits(&deploy("")).burst), (2, 25));
        let production: Deploy =
            serde_saphyr::from_str(include_str!("../../../docs/examples/production.yaml")).unwrap();
        assert_eq!((task_limits(&production).rate, task_limits(&production).burst), (1, 16));
    }

    /// With the shared table, a start of any size waits its turn: the burst is no limit,
    /// the open connections and the steady rate still are.
    #[test]
    fn coordination_lifts_the_burst_and_nothing_else() {
        let d = deploy("dsql:\n  rate_coordination: true\n");
        assert!(check(&d, &with_counts(&d, 40)).is_empty(), "4000 at a cold start, spread by the table");
        assert!(!check(&d, &with_counts(&d, 101)).is_empty(), "10100 open is over the cluster's 10000");
        assert!(Budget::of(&d, &with_counts(&d, 40)).lines().iter().any(|l| l.contains("through DynamoDB at 80/s")));
        // Without it, a start over half the burst suggests it.
        let d = deploy("");
        assert!(Budget::of(&d, &with_counts(&d, 6)).lines().iter().any(|l| l.starts_with("tight:")));
        assert!(!Budget::of(&d, &with_counts(&d, 5)).lines().iter().any(|l| l.starts_with("tight:")));
    }

    #[test]
    fn each_quota_is_checked_with_what_to_change() {
        // Over 10,000 open: 5 × 2 × 1200.
        let d = deploy("dsql:\n  pool: { max_conns: 1200, max_idle_conns: 1200 }\n");
        let p = check(&d, &with_counts(&d, 2));
        assert!(p.iter().any(|p| p.message.contains("hold 12001 open connections, over the cluster's 10000")), "{p:?}");
        // A lifetime so short that recycling alone outruns the steady share: 100 open / 1 s.
        let d = deploy("dsql:\n  pool: { max_conn_lifetime: 1s }\n");
        let p = check(&d, &capacity::counts_from_config(&d));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "dsql.pool.max_conn_lifetime");
        assert!(p[0].message.contains("raise dsql.pool.max_conn_lifetime to 2s or more"), "{}", p[0].message);
    }

    #[test]
    fn a_rolling_restart_opens_the_pools_ecs_starts_at_once() {
        let d = deploy("");
        let counts = with_counts(&d, 4);
        let b = Budget::of(&d, &counts);
        let (service, at_once) = b.largest_restart;
        let (_, max_percent) = capacity::rollout(&d, service, &counts);
        let expected = if max_percent == 200 { 4 * 20 } else { 20 };
        assert_eq!(at_once, expected, "{service} at maximumPercent {max_percent}");
    }
}
