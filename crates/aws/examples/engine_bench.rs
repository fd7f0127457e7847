//! The engine benchmark. The real stack graph is built from deploy.yaml; every node is
//! replaced by a fake of the same kind that takes that kind's time from
//! `docs/readiness-profile.csv`, scaled down, and `up`'s final phases are played the way
//! `up` runs them (one-off steps, scale waves, namespace, end-to-end check), each from
//! the profile's `one-off-task` and `wave` rows. Each wall time is reported against the
//! floor: the longest chain of what AWS really makes each step wait for, final phases
//! included, which no scheduler can beat.
//!
//! Two schedules are played: `before` (every edge waits for readiness; the steps run after
//! the whole graph, one after the other, as `up` did until issue 24) and `now` (edges that
//! need only an identity start at once; each step starts when what it needs is ready, beside
//! the walk). The default parallelism is played again with 30% of all calls throttled, the
//! engine's retries and the binary's backoff (scaled) absorbing them.
//!
//! `scripts/bench-engine [deploy.yaml] [ms per real second, default 10]`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use temporalctl_aws::stack;
use temporalctl_engine::{
    Attrs, CancelToken, Cx, Engine, EngineOptions, ErrorClass, Event, EventKind, EventSink, Graph, GraphBuilder,
    Inputs, Need, NodeId, Observed, Owned, Resource, ResourceError, Retries, RetryPolicy, RetryReason, Retrying,
    StateStore, Status, wait_for,
};

/// A read or describe: the same for every kind (~100 ms on AWS).
const READ_S: f64 = 0.1;
/// The share of calls throttled in the throttled run.
const THROTTLED: f64 = 0.3;
/// The final phases after the walk and its steps: seed 002's four scale waves, then the
/// namespace and the end-to-end check (one-off tasks each).
const WAVES: usize = 4;
const TASKS_AFTER_WAVES: usize = 2;

/// One kind's times, in real seconds.
#[derive(Clone, Copy)]
struct Profile {
    call_s: f64,
    ready_s: f64,
}

impl Profile {
    fn total(self) -> f64 {
        READ_S + self.call_s + self.ready_s
    }
}

fn load_profile(path: &str) -> BTreeMap<String, Profile> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("kind,") && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ',').collect();
            let num = |s: &str| s.parse::<f64>().unwrap_or_else(|_| panic!("{path}: bad number in `{l}`"));
            (f[0].to_string(), Profile { call_s: num(f[1]), ready_s: num(f[2]) })
        })
        .collect()
}

/// Throttles a fixed share of calls, the same ones on every run (a counter hashed, not a
/// clock), as `ThrottlingException` would come back from AWS.
struct Throttle {
    share: f64,
    calls: AtomicU64,
}

impl Throttle {
    fn new(share: f64) -> Self {
        Throttle { share, calls: AtomicU64::new(0) }
    }

    fn check(&self) -> Result<(), ResourceError> {
        // splitmix64 of the call's number: evenly spread, repeatable.
        let mut z = self.calls.fetch_add(1, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if (z as f64) < self.share * u64::MAX as f64 {
            return Err(ResourceError::new(ErrorClass::Retryable(RetryReason::Throttling), "Rate exceeded"));
        }
        Ok(())
    }
}

/// What a run shares: the time scale, the throttle and the binary's polling policy.
struct Bench {
    scale: f64,
    throttle: Throttle,
    policy: RetryPolicy,
    cancel: CancelToken,
}

impl Bench {
    fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.scale)
    }

    /// One call to AWS taking `seconds`, perhaps throttled.
    async fn call(&self, seconds: f64) -> Result<(), ResourceError> {
        tokio::time::sleep(self.scaled(seconds)).await;
        self.throttle.check()
    }

    /// A final phase as the operator runs it: the call (RunTask, UpdateService), then
    /// polls until done, each poll retried when throttled.
    async fn phase(&self, p: Profile) {
        let retrying = Retrying { policy: &self.policy, cancel: &self.cancel, report: None };
        let deadline = Duration::from_secs(3600);
        retrying.call("phase", Retries::Transient, deadline, || self.call(p.call_s)).await.expect("the phase's call");
        let started = Instant::now();
        let done = self.scaled(p.ready_s);
        wait_for(
            &self.policy,
            &self.cancel,
            deadline,
            "phase",
            |_| {},
            || async {
                retrying.call("phase", Retries::Transient, deadline, || self.call(READ_S)).await?;
                Ok(if started.elapsed() >= done { Ok(()) } else { Err("running".to_string()) })
            },
        )
        .await
        .expect("the phase ends");
    }
}

/// A fake that answers after its kind's call time and is ready its kind's ready time
/// after that, as a NAT gateway is `pending` for minutes after CreateNatGateway returns.
struct Timed {
    kind: &'static str,
    profile: Profile,
    bench: Arc<Bench>,
    created: Mutex<Option<Instant>>,
}

impl Timed {
    fn observed(&self, since: Instant, cx: &Cx<'_>) -> Observed {
        let o = Observed::new(format!("{}-1", self.kind)).tags(cx.tags.clone()).output("id", self.kind);
        if since.elapsed() >= self.bench.scaled(self.profile.ready_s) {
            o
        } else {
            o.status(Status::Pending("creating".into()))
        }
    }
}

#[async_trait]
impl Resource for Timed {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::new())
    }
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        self.bench.call(READ_S).await?;
        let created = *self.created.lock().unwrap();
        Ok(created.map(|since| self.observed(since, cx)))
    }
    async fn create(&self, cx: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
        self.bench.call(self.profile.call_s).await?;
        let now = Instant::now();
        *self.created.lock().unwrap() = Some(now);
        Ok(self.observed(now, cx))
    }
    async fn update(&self, _: &Cx<'_>, _: &Owned<Observed>, _: &Attrs, _: &[String]) -> Result<(), ResourceError> {
        Ok(())
    }
    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }
    /// The real graph's edges are given to `add_after`: a timed fake reads nothing.
    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }
    async fn delete(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }
}

/// How `up` is scheduled.
#[derive(Clone, Copy, PartialEq)]
enum Schedule {
    /// Every edge waits for readiness; the steps run after the whole walk.
    Before,
    /// Identity-only edges start at once; each step starts when what it needs is ready.
    Now,
}

/// The stack's shape with every node a `Timed` fake of its kind.
fn timed_graph(real: &Graph, profile: &BTreeMap<String, Profile>, bench: &Arc<Bench>, s: Schedule) -> Graph {
    let mut g = GraphBuilder::default();
    for i in 0..real.len() {
        let node = real.node(i);
        let kind = node.resource.kind();
        let p = *profile.get(kind).unwrap_or_else(|| panic!("docs/readiness-profile.csv has no row for `{kind}`"));
        let deps: Vec<&str> = node.deps.iter().map(String::as_str).collect();
        g.add_after(
            node.id.clone(),
            node.name.clone(),
            &deps,
            Timed { kind, profile: p, bench: bench.clone(), created: Mutex::new(None) },
        );
        if s == Schedule::Now {
            let identity: Vec<&str> = node.identity_only.iter().map(String::as_str).collect();
            g.needs_identity_only(&node.id, &identity);
        }
    }
    g.build().expect("the same shape as a graph that built")
}

/// When each node may start and when it is done under the profile, in real seconds, with
/// the node that held its start (for the chain).
struct Model {
    start: Vec<f64>,
    end: Vec<f64>,
    /// The dependency whose end (or, for an identity-only edge, whose create) let it start.
    held_by: Vec<Option<(usize, Need)>>,
}

fn model(g: &Graph, profile: &BTreeMap<String, Profile>, s: Schedule) -> Model {
    let n = g.len();
    let mut m = Model { start: vec![0.0; n], end: vec![0.0; n], held_by: vec![None; n] };
    for &i in g.topo() {
        for d in g.deps_of(i) {
            let p = profile[g.node(d).resource.kind()];
            // An identity is known when the dependency's create returns.
            let (at, need) = match (s, g.need(i, d)) {
                (Schedule::Now, Need::Identity) => (m.start[d] + READ_S + p.call_s, Need::Identity),
                _ => (m.end[d], Need::Ready),
            };
            if at > m.start[i] {
                m.start[i] = at;
                m.held_by[i] = Some((d, need));
            }
        }
        m.end[i] = m.start[i] + profile[g.node(i).resource.kind()].total();
    }
    m
}

impl Model {
    fn chain_to(&self, g: &Graph, mut i: usize) -> Vec<String> {
        let mut chain = vec![g.node(i).id.clone()];
        while let Some((d, need)) = self.held_by[i] {
            let id = &g.node(d).id;
            chain.push(if need == Need::Identity { format!("{id} (created: its ARN)") } else { id.clone() });
            i = d;
        }
        chain.reverse();
        chain
    }
    fn last(&self) -> usize {
        (0..self.end.len()).max_by(|a, b| self.end[*a].total_cmp(&self.end[*b])).unwrap_or(0)
    }
    /// When every node of `needs` is done.
    fn ready(&self, g: &Graph, needs: &[String]) -> f64 {
        needs.iter().filter_map(|id| g.find(id)).map(|i| self.end[i]).fold(0.0, f64::max)
    }
}

/// The ids each step waits for, DSQL's first.
struct StepNeeds([Vec<String>; 2]);

/// `up` under the profile: (the graph's critical path, the whole run with its final phases,
/// and the chain that decides it).
fn floor(g: &Graph, profile: &BTreeMap<String, Profile>, needs: &StepNeeds, s: Schedule) -> (f64, f64, Vec<String>) {
    let m = model(g, profile, s);
    let graph_s = m.end[m.last()];
    let (task, wave) = (profile["one-off-task"].total(), profile["wave"].total());
    let after_steps = WAVES as f64 * wave + TASKS_AFTER_WAVES as f64 * task;
    let phases = vec!["waves ×4".to_string(), "namespace".to_string(), "check".to_string()];
    match s {
        Schedule::Before => {
            let mut chain = m.chain_to(g, m.last());
            chain.extend(["schema".to_string(), "index".to_string()]);
            chain.extend(phases);
            (graph_s, graph_s + 2.0 * task + after_steps, chain)
        }
        Schedule::Now => {
            let [schema, index] = [&needs.0[0], &needs.0[1]].map(|n| m.ready(g, n) + task);
            let waves_start = graph_s.max(schema).max(index);
            let last_needed = if waves_start == index {
                let i = needs.0[1].iter().filter_map(|id| g.find(id)).max_by(|a, b| m.end[*a].total_cmp(&m.end[*b]));
                let mut chain = m.chain_to(g, i.unwrap_or(0));
                chain.push("index".into());
                chain
            } else {
                m.chain_to(g, m.last())
            };
            let mut chain = last_needed;
            chain.extend(phases);
            (graph_s, waves_start + after_steps, chain)
        }
    }
}

/// What every run plays: the real graph, the profile, the steps' needs, the deployment.
struct Stage<'a> {
    real: &'a Graph,
    profile: &'a BTreeMap<String, Profile>,
    needs: &'a StepNeeds,
    deploy: &'a temporalctl_config::Deploy,
}

/// One `up`, scheduled as `s`: its wall time in real seconds.
async fn run_up(stage: &Stage<'_>, bench: &Arc<Bench>, s: Schedule, parallelism: usize) -> f64 {
    let Stage { real, profile, needs, deploy } = *stage;
    let (project, region) = (deploy.project.as_str(), deploy.region.as_str());
    let graph = timed_graph(real, profile, bench, s);
    let dir = std::env::temp_dir().join(format!("temporalctl-bench-{}-{parallelism}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = StateStore::new(&dir, project, region);
    let mut locked = store.lock("bench").expect("state lock");
    let opts = EngineOptions {
        project: project.into(),
        extra_tags: Default::default(),
        parallelism,
        retry: bench.policy,
        delete_deadline: Duration::from_secs(60),
        destroy_data: false,
        replace_data: false,
        allow_irreversible: false,
    };
    let timeline = Timeline::default();
    let engine = Engine::new(&graph, opts, &timeline, CancelToken::default());
    let task = profile["one-off-task"];
    let started = Instant::now();
    let report = match s {
        Schedule::Before => {
            let report = engine.apply(&mut locked).await;
            bench.phase(task).await;
            bench.phase(task).await;
            report
        }
        Schedule::Now => {
            let (report, ()) = engine
                .apply_beside(&mut locked, async |walk| {
                    let step = async |needs: &[String]| {
                        if walk.ready(needs).await.is_some() {
                            bench.phase(task).await;
                        }
                    };
                    tokio::join!(step(&needs.0[0]), step(&needs.0[1]));
                })
                .await;
            report
        }
    };
    for _ in 0..WAVES {
        bench.phase(profile["wave"]).await;
    }
    for _ in 0..TASKS_AFTER_WAVES {
        bench.phase(task).await;
    }
    let wall = started.elapsed();
    assert!(report.ok(), "{:?}", report.failures);
    let _ = std::fs::remove_dir_all(&dir);
    if std::env::var_os("BENCH_TRACE").is_some() {
        let t = timeline.0.lock().unwrap();
        let real_s =
            |d: Option<Duration>| d.map(|d| format!("{:.0}", d.as_secs_f64() / bench.scale)).unwrap_or("-".into());
        for node in [stack::DSQL, stack::OPENSEARCH, &stack::task_role("frontend")] {
            let (start, end) = t.get(node).copied().unwrap_or_default();
            eprintln!("    {node}: started {} s, finished {} s", real_s(start), real_s(end));
        }
    }
    wall.as_secs_f64() / bench.scale
}

/// When a node started and finished, since the run began.
type Span = (Option<Duration>, Option<Duration>);

/// Each node's span, for the trace.
#[derive(Default)]
struct Timeline(Mutex<BTreeMap<String, Span>>);

impl EventSink for Timeline {
    fn emit(&self, e: Event) {
        let mut t = self.0.lock().unwrap();
        match e.kind {
            EventKind::NodeStarted { node, .. } => t.entry(node).or_default().0.get_or_insert(e.elapsed),
            EventKind::NodeFinished { node, .. } => t.entry(node).or_default().1.insert(e.elapsed),
            _ => return,
        };
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = args.first().map(String::as_str).unwrap_or("deploy.yaml");
    let ms_per_second: f64 = args.get(1).map(|s| s.parse().expect("ms per real second")).unwrap_or(10.0);
    let scale = ms_per_second / 1000.0;
    let deploy = temporalctl_config::load(std::path::Path::new(config)).unwrap_or_else(|e| panic!("{e}"));
    let profile = load_profile("docs/readiness-profile.csv");

    // The real graph needs clients to exist, never to call: nothing leaves this process.
    let aws = temporalctl_aws::Aws::offline(&deploy.region);
    let real =
        stack::build(&deploy, &aws, &temporalctl_config::capacity::counts_from_config(&deploy), &Default::default())
            .expect("stack graph");
    let needs = StepNeeds([stack::DSQL, stack::OPENSEARCH].map(|store| stack::step_needs(&real, &deploy, store)));
    let (before_graph, before_up, before_chain) = floor(&real, &profile, &needs, Schedule::Before);
    let (now_graph, now_up, now_chain) = floor(&real, &profile, &needs, Schedule::Now);

    println!(
        "graph: {} nodes from {config}; profile: docs/readiness-profile.csv; {ms_per_second} ms per real second",
        real.len()
    );
    println!(
        "before: graph's critical path {before_graph:.0} s; with the final phases after it {before_up:.0} s: {}",
        before_chain.join(" → ")
    );
    println!(
        "now:    graph's critical path {now_graph:.0} s; floor with the final phases {now_up:.0} s: {}",
        now_chain.join(" → ")
    );
    println!();
    println!("| schedule | parallelism | throttled | wall (real s) | wall / its floor | wall / floor now |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let policy = RetryPolicy::default();
    // The binary's polling policy, on the same scale as the profile.
    let scaled = RetryPolicy {
        min_delay: policy.min_delay.mul_f64(scale),
        max_delay: policy.max_delay.mul_f64(scale),
        deadline: policy.deadline,
    };
    let stage = Stage { real: &real, profile: &profile, needs: &needs, deploy: &deploy };
    let plays = [1, 4, 8, 16]
        .into_iter()
        .flat_map(|p| [(Schedule::Before, p, 0.0), (Schedule::Now, p, 0.0)])
        .chain([(Schedule::Before, 8, THROTTLED), (Schedule::Now, 8, THROTTLED)]);
    for (s, parallelism, share) in plays {
        let bench =
            Arc::new(Bench { scale, throttle: Throttle::new(share), policy: scaled, cancel: CancelToken::default() });
        let wall = run_up(&stage, &bench, s, parallelism).await;
        let (name, own) = match s {
            Schedule::Before => ("before", before_up),
            Schedule::Now => ("now", now_up),
        };
        let default = if parallelism == 8 { " (default)" } else { "" };
        println!(
            "| {name} | {parallelism}{default} | {:.0}% | {wall:.0} | {:.3} | {:.3} |",
            share * 100.0,
            wall / own,
            wall / now_up
        );
    }
}
