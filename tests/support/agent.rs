//! What the ECS agent and the ECS scheduler do on real AWS and moto does not
//! (emulator-notes, "How to emulate what moto lacks"): a background thread that
//! - registers every Auto Scaling instance with the cluster its user data names, with
//!   the `workload` attribute from `ECS_INSTANCE_ATTRIBUTES`;
//! - keeps each service's tasks at its desired count (group `service:<name>`), so a
//!   service has tasks with addresses, and scaling down stops them.
//!
//! It talks to the emulator directly, so its calls are not in the proxy's recording.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_ecs::types::{Attribute, DesiredStatus, ServiceField, TaskField};

pub struct Agent {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Clients {
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    asg: aws_sdk_autoscaling::Client,
}

#[derive(Default)]
struct Memory {
    registered: BTreeSet<String>,
}

impl Agent {
    pub fn start(sdk: aws_config::SdkConfig) -> Agent {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let clients = Clients {
                ec2: aws_sdk_ec2::Client::new(&sdk),
                ecs: aws_sdk_ecs::Client::new(&sdk),
                asg: aws_sdk_autoscaling::Client::new(&sdk),
            };
            let mut memory = Memory::default();
            while !flag.load(Ordering::Relaxed) {
                // Errors are the emulator being busy or a resource mid-delete: try again.
                let _ = rt.block_on(tick(&clients, &mut memory));
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Agent { stop, thread: Some(thread) }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn tick(c: &Clients, memory: &mut Memory) -> Result<(), Error> {
    register_instances(c, memory).await?;
    schedule_services(c).await
}

/// The ECS agent: join the cluster named in the user data, with its attributes.
async fn register_instances(c: &Clients, memory: &mut Memory) -> Result<(), Error> {
    let groups = c.asg.describe_auto_scaling_groups().send().await?;
    for instance in groups.auto_scaling_groups().iter().flat_map(|g| g.instances()) {
        let Some(id) = instance.instance_id() else { continue };
        if memory.registered.contains(id) {
            continue;
        }
        let user_data = c
            .ec2
            .describe_instance_attribute()
            .instance_id(id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await?;
        let Some(encoded) = user_data.user_data().and_then(|u| u.value()) else { continue };
        let text = String::from_utf8(aws_smithy_types::base64::decode(encoded)?)?;
        let config: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let Some(cluster) = config.get("ECS_CLUSTER") else { continue };
        let attributes: BTreeMap<String, String> =
            config.get("ECS_INSTANCE_ATTRIBUTES").map(|a| serde_json::from_str(a)).transpose()?.unwrap_or_default();
        let document = serde_json::json!({ "instanceId": id }).to_string();
        let ci =
            c.ecs.register_container_instance().cluster(*cluster).instance_identity_document(document).send().await?;
        let arn = ci.container_instance().and_then(|ci| ci.container_instance_arn()).unwrap_or_default().to_string();
        for (name, value) in attributes {
            let attribute = Attribute::builder().name(name).value(value).target_id(&arn).build()?;
            c.ecs.put_attributes().cluster(*cluster).attributes(attribute).send().await?;
        }
        memory.registered.insert(id.to_string());
    }
    Ok(())
}

/// The ECS scheduler: start or stop tasks until each service has its desired count.
async fn schedule_services(c: &Clients) -> Result<(), Error> {
    for cluster in c.ecs.list_clusters().send().await?.cluster_arns() {
        let arns = c.ecs.list_services().cluster(cluster).send().await?.service_arns().to_vec();
        if arns.is_empty() {
            continue;
        }
        let tasks = c.ecs.list_tasks().cluster(cluster).desired_status(DesiredStatus::Running).send().await?;
        let running = if tasks.task_arns().is_empty() {
            Vec::new()
        } else {
            let described = c
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(tasks.task_arns().to_vec()))
                .include(TaskField::Tags)
                .send()
                .await?;
            described.tasks().to_vec()
        };
        // Always with tags: moto 5.2.5 keeps "include tags or not" in one class-wide table, so a
        // describe without tags racing the binary's describe with tags strips the binary's.
        let services = c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(arns))
            .include(ServiceField::Tags)
            .send()
            .await?;
        for s in services.services().iter().filter(|s| s.status() == Some("ACTIVE")) {
            let group = format!("service:{}", s.service_name().unwrap_or_default());
            let mine: Vec<_> = running
                .iter()
                .filter(|t| t.group() == Some(group.as_str()) && t.desired_status() == Some("RUNNING"))
                .collect();
            let want = s.desired_count().max(0) as usize;
            if mine.len() < want {
                c.ecs
                    .run_task()
                    .cluster(cluster)
                    .task_definition(s.task_definition().unwrap_or_default())
                    .count((want - mine.len()) as i32)
                    .group(&group)
                    .started_by("ecs-svc/emulated-scheduler")
                    .set_network_configuration(s.network_configuration().cloned())
                    .set_capacity_provider_strategy(
                        Some(s.capacity_provider_strategy().to_vec()).filter(|v| !v.is_empty()),
                    )
                    .send()
                    .await?;
            }
            for extra in mine.iter().skip(want) {
                let arn = extra.task_arn().unwrap_or_default();
                c.ecs
                    .stop_task()
                    .cluster(cluster)
                    .task(arn)
                    .reason("Scaling activity initiated by (deployment)")
                    .send()
                    .await?;
            }
        }
    }
    Ok(())
}
