//! The engine benchmark. The real stack graph is built from deploy.yaml; every node is
//! replaced by a fake of the same kind that takes that kind's time from
//! `docs/readiness-profile.csv`, scaled down. The graph is applied at several
//! parallelisms, and each wall time is reported against the critical path: the longest
//! dependency chain under the same profile, which no scheduler can beat.
//!
//! `scripts/bench-engine [deploy.yaml] [ms per real second, default 10]`

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use temporalctl_engine::{
    Attrs, CancelToken, Cx, Engine, EngineOptions, Event, EventKind, EventSink, Graph, GraphBuilder, Inputs, NodeId,
    Observed, Owned, Resource, ResourceError, RetryPolicy, StateStore, Status,
};

/// A read or describe: the same for every kind (~100 ms on AWS).
const READ_S: f64 = 0.1;

/// One kind's times, in real seconds.
#[derive(Clone, Copy)]
struct Profile {
    call_s: f64,
    ready_s: f64,
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

/// A fake that answers after its kind's call time and is ready its kind's ready time
/// after that, as a NAT gateway is `pending` for minutes after CreateNatGateway returns.
struct Timed {
    kind: &'static str,
    profile: Profile,
    scale: f64,
    created: Mutex<Option<Instant>>,
}

impl Timed {
    fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.scale)
    }

    fn observed(&self, since: Instant, cx: &Cx<'_>) -> Observed {
        let o = Observed::new(format!("{}-1", self.kind)).tags(cx.tags.clone()).output("id", self.kind);
        if since.elapsed() >= self.scaled(self.profile.ready_s) {
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
        tokio::time::sleep(self.scaled(READ_S)).await;
        let created = *self.created.lock().unwrap();
        Ok(created.map(|since| self.observed(since, cx)))
    }
    async fn create(&self, cx: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
        tokio::time::sleep(self.scaled(self.profile.call_s)).await;
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

/// The stack's shape with every node a `Timed` fake of its kind.
fn timed_graph(real: &Graph, profile: &BTreeMap<String, Profile>, scale: f64) -> Graph {
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
            Timed { kind, profile: p, scale, created: Mutex::new(None) },
        );
    }
    g.build().expect("the same shape as a graph that built")
}

/// The longest chain of read + call + ready times, in real seconds, and its nodes.
fn critical_path(g: &Graph, profile: &BTreeMap<String, Profile>) -> (f64, Vec<String>) {
    fn longest(
        g: &Graph,
        i: usize,
        cost: &dyn Fn(usize) -> f64,
        memo: &mut Vec<Option<(f64, Vec<usize>)>>,
    ) -> (f64, Vec<usize>) {
        if let Some(done) = &memo[i] {
            return done.clone();
        }
        let before = g.deps_of(i).map(|d| longest(g, d, cost, memo)).max_by(|a, b| a.0.total_cmp(&b.0));
        let (t, mut chain) = before.unwrap_or((0.0, Vec::new()));
        chain.push(i);
        let result = (t + cost(i), chain);
        memo[i] = Some(result.clone());
        result
    }
    let cost = |i: usize| {
        let p = profile[g.node(i).resource.kind()];
        READ_S + p.call_s + p.ready_s
    };
    let mut memo = vec![None; g.len()];
    let (t, chain) =
        (0..g.len()).map(|i| longest(g, i, &cost, &mut memo)).max_by(|a, b| a.0.total_cmp(&b.0)).unwrap_or_default();
    (t, chain.into_iter().map(|i| g.node(i).id.clone()).collect())
}

/// When a node started and finished, since the run began.
type Span = (Option<Duration>, Option<Duration>);

/// Each node's span, for the critical path's breakdown.
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
    for (k, v) in
        [("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]
    {
        // SAFETY: single-threaded here, before any client reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let aws = temporalctl_aws::Aws::connect(&deploy.region).await.expect("clients");
    let real = temporalctl_aws::stack::build(
        &deploy,
        &aws,
        &temporalctl_config::capacity::counts_from_config(&deploy),
        &Default::default(),
    )
    .expect("stack graph");
    let (floor_s, chain) = critical_path(&real, &profile);

    println!(
        "graph: {} nodes from {config}; profile: docs/readiness-profile.csv; {ms_per_second} ms per real second",
        real.len()
    );
    println!("critical path: {:.0} s real ({:.0} ms scaled): {}", floor_s, floor_s * ms_per_second, chain.join(" → "));
    println!();
    println!("| parallelism | wall (scaled) | as real time | wall / critical path |");
    println!("| --- | --- | --- | --- |");
    let policy = RetryPolicy::default();
    for parallelism in [1, 4, 8, 16] {
        let graph = timed_graph(&real, &profile, scale);
        let dir = std::env::temp_dir().join(format!("temporalctl-bench-{}-{parallelism}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = StateStore::new(&dir, &deploy.project, &deploy.region);
        let mut locked = store.lock("bench").expect("state lock");
        let opts = EngineOptions {
            project: deploy.project.clone(),
            extra_tags: Default::default(),
            parallelism,
            // The binary's polling policy, on the same scale as the profile.
            retry: RetryPolicy {
                min_delay: policy.min_delay.mul_f64(scale),
                max_delay: policy.max_delay.mul_f64(scale),
                deadline: policy.deadline,
            },
            delete_deadline: Duration::from_secs(60),
            destroy_data: false,
            replace_data: false,
        };
        let timeline = Timeline::default();
        let started = Instant::now();
        let report = Engine::new(&graph, opts, &timeline, CancelToken::default()).apply(&mut locked).await;
        let wall = started.elapsed();
        assert!(report.ok(), "{:?}", report.failures);
        let _ = std::fs::remove_dir_all(&dir);
        let real_s = wall.as_secs_f64() / scale;
        let default = if parallelism == 8 { " (default)" } else { "" };
        println!(
            "| {parallelism}{default} | {:.0} ms | {:.0} s | {:.3} |",
            wall.as_secs_f64() * 1000.0,
            real_s,
            real_s / floor_s
        );
        if std::env::var_os("BENCH_TRACE").is_some() {
            let t = timeline.0.lock().unwrap();
            for node in &chain {
                let (start, end) = t.get(node).copied().unwrap_or_default();
                let real =
                    |d: Option<Duration>| d.map(|d| format!("{:.0}", d.as_secs_f64() / scale)).unwrap_or("-".into());
                eprintln!("    {node}: started {} s, finished {} s", real(start), real(end));
            }
        }
    }
}
