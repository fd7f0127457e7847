#!/usr/bin/env python3
"""What the ECS agent and scheduler do on real AWS and moto does not, for scripts/demo
(the Rust tests use tests/support/agent.rs, the same logic): register every Auto Scaling
instance with the cluster its user data names, with its `workload` attribute, and keep
each service's tasks at its desired count. Talks only to the local emulator."""
import base64, json, os, sys, time

import boto3

endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo")
ec2, ecs, asg = (boto3.client(s, **kw) for s in ("ec2", "ecs", "autoscaling"))
registered = set()


def register():
    for group in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        for inst in group.get("Instances", []):
            iid = inst["InstanceId"]
            if iid in registered:
                continue
            data = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData").get("UserData", {}).get("Value")
            if not data:
                continue
            cfg = dict(l.split("=", 1) for l in base64.b64decode(data).decode().splitlines() if "=" in l)
            if "ECS_CLUSTER" not in cfg:
                continue
            ci = ecs.register_container_instance(
                cluster=cfg["ECS_CLUSTER"], instanceIdentityDocument=json.dumps({"instanceId": iid})
            )["containerInstance"]["containerInstanceArn"]
            for name, value in json.loads(cfg.get("ECS_INSTANCE_ATTRIBUTES", "{}")).items():
                ecs.put_attributes(cluster=cfg["ECS_CLUSTER"], attributes=[{"name": name, "value": value, "targetId": ci}])
            registered.add(iid)


def schedule():
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if not arns:
            continue
        task_arns = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
        tasks = ecs.describe_tasks(cluster=cluster, tasks=task_arns, include=["TAGS"])["tasks"] if task_arns else []
        for s in ecs.describe_services(cluster=cluster, services=arns, include=["TAGS"])["services"]:
            if s["status"] != "ACTIVE":
                continue
            group = "service:" + s["serviceName"]
            mine = [t for t in tasks if t.get("group") == group and t.get("desiredStatus") == "RUNNING"]
            want = max(s.get("desiredCount", 0), 0)
            if len(mine) < want:
                ecs.run_task(cluster=cluster, taskDefinition=s["taskDefinition"], count=want - len(mine), group=group,
                             startedBy="ecs-svc/emulated-scheduler",
                             networkConfiguration=s.get("networkConfiguration", {}))
            for extra in mine[want:]:
                ecs.stop_task(cluster=cluster, task=extra["taskArn"], reason="Scaling activity")


while True:
    try:
        register()
        schedule()
    except Exception:  # the emulator is busy or a resource is mid-delete: try again
        pass
    time.sleep(0.25)
