//! Whether the node groups can hold the tasks placed on them: CPU and memory at each
//! group's `max_size`, and network interfaces (every awsvpc task takes one; without
//! ECS `awsvpcTrunking` an instance has only its ENI limit minus its own).
//!
//! Shapes are for the Graviton families temporalctl accepts, from the EC2 instance type
//! and ECS ENI trunking tables (2025). Unknown sizes are not judged.

use std::collections::BTreeMap;

use crate::{Deploy, Problem};

/// What one instance offers to tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub cpu_units: u32,
    /// Memory ECS can hand to tasks: the instance's, less ~10% for the OS and the agent.
    pub memory_mib: u32,
    /// awsvpc tasks without trunking: ENIs minus the primary one.
    pub tasks_without_trunking: u32,
    /// awsvpc tasks with `awsvpcTrunking` on (0: the type does not support trunking).
    pub tasks_with_trunking: u32,
}

/// (size, vCPUs, max ENIs, trunking tasks)
const SIZES: &[(&str, u32, u32, u32)] = &[
    ("medium", 1, 2, 4),
    ("large", 2, 3, 10),
    ("xlarge", 4, 4, 20),
    ("2xlarge", 8, 4, 40),
    ("4xlarge", 16, 8, 60),
    ("8xlarge", 32, 8, 60),
    ("12xlarge", 48, 8, 60),
    ("16xlarge", 64, 15, 120),
];

/// Burstable t4g: (size, vCPUs, memory GiB, max ENIs); no trunking.
const T4G: &[(&str, u32, u32, u32)] =
    &[("small", 2, 2, 3), ("medium", 2, 4, 3), ("large", 2, 8, 3), ("xlarge", 4, 16, 4), ("2xlarge", 8, 32, 4)];

fn usable(gib: u32) -> u32 {
    gib * 1024 * 9 / 10
}

pub fn shape(instance_type: &str) -> Option<Shape> {
    let (family, size) = instance_type.split_once('.')?;
    if family == "t4g" {
        let &(_, vcpu, gib, enis) = T4G.iter().find(|(s, ..)| *s == size)?;
        return Some(Shape {
            cpu_units: vcpu * 1024,
            memory_mib: usable(gib),
            tasks_without_trunking: enis - 1,
            tasks_with_trunking: 0,
        });
    }
    // GiB per vCPU by family letter: compute, general, memory optimised.
    let per_vcpu = match family.chars().next()? {
        'c' => 2,
        'm' => 4,
        'r' => 8,
        _ => return None,
    };
    if !matches!(&family[1..], "6g" | "7g" | "8g" | "6gd" | "7gd") {
        return None;
    }
    let &(_, vcpu, enis, trunk) = SIZES.iter().find(|(s, ..)| *s == size)?;
    Some(Shape {
        cpu_units: vcpu * 1024,
        memory_mib: usable(vcpu * per_vcpu),
        tasks_without_trunking: enis - 1,
        tasks_with_trunking: trunk,
    })
}

/// Replicas per service key.
pub type Counts = BTreeMap<&'static str, u32>;

pub fn counts_from_config(d: &Deploy) -> Counts {
    d.services.iter().map(|(k, s)| (k, s.count)).collect()
}

/// What one node group must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub group: &'static str,
    pub tasks: u32,
    pub cpu_units: u32,
    pub memory_mib: u32,
    /// `history 1×512`, … for messages.
    pub services: Vec<String>,
}

pub fn loads(d: &Deploy, counts: &Counts) -> Vec<Load> {
    d.node_groups
        .iter()
        .map(|(group, _)| {
            let mut load = Load { group, tasks: 0, cpu_units: 0, memory_mib: 0, services: Vec::new() };
            for (key, s) in d.services.iter().filter(|(_, s)| s.node_group == group) {
                let n = counts.get(key).copied().unwrap_or(0);
                if n == 0 {
                    continue;
                }
                load.tasks += n;
                load.cpu_units += n * s.cpu;
                load.memory_mib += n * s.memory;
                load.services.push(format!("{key} {n}×{}/{}", s.cpu, s.memory));
            }
            load
        })
        .collect()
}

/// Problems that hold whatever the account's settings: a task bigger than an instance,
/// or more CPU, memory or (even with trunking) tasks than `max_size` instances hold.
pub fn check(d: &Deploy, counts: &Counts) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (key, s) in d.services.iter() {
        let Some(g) = d.node_groups.get(&s.node_group) else { continue };
        let Some(shape) = shape(&g.instance_type) else { continue };
        if s.cpu > shape.cpu_units || s.memory > shape.memory_mib {
            problems.push(Problem::new(
                format!("services.{key}"),
                format!(
                    "a {key} task ({} CPU units, {} MiB) does not fit on one {} of node group {} ({} units, ~{} MiB usable); lower cpu/memory or choose a larger instance_type",
                    s.cpu, s.memory, g.instance_type, s.node_group, shape.cpu_units, shape.memory_mib
                ),
            ));
        }
    }
    for load in loads(d, counts) {
        let g = d.node_groups.get(load.group).expect("own group");
        let Some(shape) = shape(&g.instance_type) else { continue };
        let max = g.max_size;
        let per_instance = shape.tasks_with_trunking.max(shape.tasks_without_trunking);
        let short = load.cpu_units > max * shape.cpu_units
            || load.memory_mib > max * shape.memory_mib
            || load.tasks > max * per_instance;
        if short {
            let needed = [
                load.cpu_units.div_ceil(shape.cpu_units),
                load.memory_mib.div_ceil(shape.memory_mib),
                load.tasks.div_ceil(per_instance.max(1)),
            ]
            .into_iter()
            .max()
            .unwrap_or(1);
            problems.push(Problem::new(
                format!("node_groups.{}.max_size", load.group),
                format!(
                    "node group {} must hold {} ({} tasks, {} CPU units, {} MiB), but {max} × {} give {} units, ~{} MiB and at most {} tasks; raise max_size to {needed} or choose a larger instance_type",
                    load.group,
                    load.services.join(", "),
                    load.tasks,
                    load.cpu_units,
                    load.memory_mib,
                    g.instance_type,
                    max * shape.cpu_units,
                    max * shape.memory_mib,
                    max * per_instance
                ),
            ));
        }
    }
    problems
}

/// Whether every service of `group` can roll with a surge at `counts` (ECS starts the new
/// tasks before it stops the old ones, `maximumPercent` 200): twice the group's tasks must
/// fit at `max_size`, in CPU, memory and network interfaces, counting ENIs without
/// trunking unless `node_groups.awsvpc_trunking` turns it on (otherwise it is an account
/// setting, unknown until a call). When
/// they do not, the group's services replace their tasks in place instead: a surge that
/// cannot be placed stalls every rolling update until the deadline. Unknown instance
/// types are not judged (surge).
pub fn surge_fits(d: &Deploy, group: &str, counts: &Counts) -> bool {
    let Some(g) = d.node_groups.get(group) else { return true };
    let (Some(shape), Some(load)) = (shape(&g.instance_type), loads(d, counts).into_iter().find(|l| l.group == group))
    else {
        return true;
    };
    let max = g.max_size;
    let per_instance = if d.node_groups.awsvpc_trunking {
        shape.tasks_with_trunking.max(shape.tasks_without_trunking)
    } else {
        shape.tasks_without_trunking
    };
    2 * load.tasks <= max * per_instance
        && 2 * load.cpu_units <= max * shape.cpu_units
        && 2 * load.memory_mib <= max * shape.memory_mib
}

/// The (minimumHealthyPercent, maximumPercent) of service `key` at `counts`.
pub fn rollout(d: &Deploy, key: &str, counts: &Counts) -> (i32, i32) {
    let group = d.services.get(key).map(|s| s.node_group.clone()).unwrap_or_default();
    rollout_percents(surge_fits(d, &group, counts), counts.get(key).copied().unwrap_or(0))
}

/// ECS's (minimumHealthyPercent, maximumPercent) for a service of `count` tasks: a surge
/// of up to `count` new tasks where the group has room, else one task replaced at a time
/// (maximumPercent 100; ECS rounds the minimum up, so (count-1)/count keeps all but one
/// running; a single task is replaced with a short gap).
pub fn rollout_percents(surge: bool, count: u32) -> (i32, i32) {
    if surge {
        (100, 200)
    } else if count <= 1 {
        (0, 100)
    } else {
        ((100 * (count - 1) / count) as i32, 100)
    }
}

/// Node groups whose tasks only fit with `awsvpcTrunking` (one ENI per task otherwise).
pub fn needs_trunking(d: &Deploy, counts: &Counts) -> Vec<(Load, String)> {
    loads(d, counts)
        .into_iter()
        .filter_map(|load| {
            let g = d.node_groups.get(load.group)?;
            let shape = shape(&g.instance_type)?;
            let without = g.max_size * shape.tasks_without_trunking;
            (load.tasks > without).then(|| {
                let why = format!(
                    "node group {} runs {} awsvpc tasks, but {} × {} have ENIs for only {without} without trunking",
                    load.group, load.tasks, g.max_size, g.instance_type
                );
                (load, why)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_common_graviton_types() {
        let m = shape("m7g.large").unwrap();
        assert_eq!((m.cpu_units, m.memory_mib, m.tasks_without_trunking, m.tasks_with_trunking), (2048, 7372, 2, 10));
        assert_eq!(shape("c7g.xlarge").unwrap().memory_mib, usable(8));
        assert_eq!(shape("r6g.medium").unwrap().memory_mib, usable(8));
        assert_eq!(shape("t4g.medium").unwrap().tasks_with_trunking, 0);
        assert_eq!(shape("m7g.metal"), None);
        assert_eq!(shape("x2gd.large"), None);
    }

    #[test]
    fn the_default_deployment_fits_and_needs_no_trunking() {
        let d = crate::parse(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "t.yaml",
        )
        .unwrap();
        assert!(check(&d, &counts_from_config(&d)).is_empty());
        // Group b holds matching, frontend, ui and grafana: 4 tasks, 2 ENIs per m7g.large.
        assert!(needs_trunking(&d, &counts_from_config(&d)).is_empty());
        let mut counts = counts_from_config(&d);
        counts.insert("frontend", 2);
        let need = needs_trunking(&d, &counts);
        assert_eq!(need.len(), 1);
        assert_eq!(need[0].0.group, "b");
    }

    /// Seed 002's group b: matching, frontend, ui and grafana in 2 × m7g.large, 4 ENI
    /// slots without trunking. A surge would need 8: its services replace in place.
    #[test]
    fn a_group_without_room_for_a_surge_rolls_in_place() {
        let d = crate::parse(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "t.yaml",
        )
        .unwrap();
        let counts = counts_from_config(&d);
        assert!(!surge_fits(&d, "b", &counts), "4 tasks in 4 slots");
        assert!(surge_fits(&d, "a", &counts), "history and the internal frontend: 2 tasks, 4 slots");
        assert_eq!(rollout(&d, "frontend", &counts), (0, 100), "one task: replaced with a short gap");
        assert_eq!(rollout(&d, "history", &counts), (100, 200));
        assert_eq!(rollout_percents(false, 3), (66, 100), "ECS rounds 66% of 3 up to 2: one at a time");
        // `scale up --count 2`: group c (worker and adot) then fills its 4 slots.
        let doubled: Counts = counts.keys().map(|k| (*k, 2)).collect();
        assert_eq!(rollout(&d, "worker", &doubled), (50, 100));
        assert_eq!(rollout(&d, "history", &doubled), (50, 100), "4 tasks fill group a's 4 slots: one at a time");
    }

    #[test]
    fn a_group_too_small_names_itself_and_the_fix() {
        let d = crate::parse(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "t.yaml",
        )
        .unwrap();
        let mut counts = counts_from_config(&d);
        counts.insert("history", 9);
        let problems = check(&d, &counts);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "node_groups.a.max_size");
        assert!(problems[0].message.contains("raise max_size to 3"), "{}", problems[0].message);
    }
}
