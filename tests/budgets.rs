//! Issue 7: call budgets, counted at the proxy (counts, never wall time), and the
//! end-to-end benchmark (ignored: run it by hand, numbers go to docs/performance.md).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::Harness;
use temporalctl_proxy::{Faults, Script};

const PROJECT: &str = "itbud";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

/// What `status` reads besides the resources: the services' tasks and instances (4 batched
/// calls), see `docs/status.schema.json`.
const STATUS_RUNTIME_READS: usize = 4;

#[test]
fn noop_up_plan_and_status_change_nothing_and_keep_within_their_read_budgets() {
    let h = Harness::new("bud-noop", &deploy());
    h.run(&["up"]).ok();
    let nodes = h.state(PROJECT)["nodes"].as_object().map(|n| n.len()).unwrap();
    for verb in [&["plan"][..], &["status"], &["status", "--output", "json"], &["up"]] {
        h.proxy.clear();
        h.run(verb).ok();
        let mutating: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
        assert!(mutating.is_empty(), "{verb:?} changed something: {mutating:?}");
        let reads = h.proxy.calls().len();
        // At most one read per resource: first looks come from one listing per kind
        // where the API allows (EC2 by tag, log groups by prefix, services, groups and
        // providers by name); IAM roles (3 calls each) and task definitions cannot batch.
        let budget = if verb[0] == "status" { nodes + STATUS_RUNTIME_READS } else { nodes + support::FIXED_READS };
        assert!(reads <= budget, "{verb:?}: {reads} reads for {nodes} resources (budget {budget})");
        eprintln!("{verb:?}: {reads} reads, 0 mutating, for {nodes} resources");
    }
}

#[test]
fn a_minute_long_wait_polls_with_backoff_not_a_fast_loop() {
    let h = Harness::new("bud-poll", &format!("{}timeouts: {{ nat_gateway: 60s }}\n", deploy()));
    let pending = || Script::replace("<state>available</state>", "<state>pending</state>");
    h.proxy.script("CreateNatGateway", None, pending());
    h.proxy.script("DescribeNatGateways", None, pending());
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("nat-gateway") && run.stderr.contains("last state: pending"), "{}", run.stderr);
    let polls = h.proxy.operations().iter().filter(|o| *o == "DescribeNatGateways").count();
    // 1 s apart for the first 5 s, then a fifth of the time waited: ~18 in a minute, where a
    // fixed one-second loop would make 60.
    assert!((8..=25).contains(&polls), "{polls} reads in a 60 s wait");
    eprintln!("{polls} DescribeNatGateways in a 60 s wait");
}

/// `cargo test -p temporalctl --test budgets -- --ignored --nocapture e2e_benchmark`
#[test]
#[ignore = "measurement, not a check"]
fn e2e_benchmark() {
    let latency = Duration::from_millis(50);
    let h = Harness::new("bud-bench", &deploy());
    h.proxy.latency(latency);
    println!("| run | wall | calls | mutating | top operations |");
    println!("| --- | --- | --- | --- | --- |");
    let measure = |label: &str, args: &[&str]| {
        h.proxy.clear();
        let started = Instant::now();
        h.run(args).ok();
        let wall = started.elapsed();
        let mut ops = BTreeMap::<String, usize>::new();
        for op in h.proxy.operations() {
            *ops.entry(op).or_default() += 1;
        }
        let mut top: Vec<(String, usize)> = ops.into_iter().collect();
        top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let top: Vec<String> = top.iter().take(4).map(|(o, n)| format!("{o} {n}")).collect();
        println!(
            "| {label} | {:.1} s | {} | {} | {} |",
            wall.as_secs_f64(),
            h.proxy.calls().len(),
            h.proxy.mutating().len(),
            top.join(", ")
        );
        wall
    };
    let fresh = measure("fresh `up`", &["up"]);
    measure("no-op `up`", &["up"]);
    measure("`plan`", &["plan"]);
    measure("`status`", &["status"]);
    measure("`scale up --count 2`", &["scale", "up", "--count", "2"]);
    measure("`down --destroy-data`", &["down", "--yes", "--destroy-data"]);

    // The same fresh `up` under 30% throttling, on its own emulator.
    let t = Harness::new("bud-bench-throttled", &deploy());
    t.proxy.latency(latency);
    t.proxy.faults(Some(Faults { share: 0.3, seed: 0x7e57 }));
    let started = Instant::now();
    t.run(&["up"]).ok();
    let throttled = started.elapsed();
    println!(
        "fresh `up` under 30% throttling: {:.1} s ({} faults), {:.2}x the fault-free {:.1} s",
        throttled.as_secs_f64(),
        t.proxy.faults_injected(),
        throttled.as_secs_f64() / fresh.as_secs_f64(),
        fresh.as_secs_f64()
    );
}
