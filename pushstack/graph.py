"""Dependencies between a template's resources: Ref, GetAtt, Sub and DependsOn."""

from __future__ import annotations

import re

# Typical creation time, in seconds, of one resource of each type: what
# CloudFormation stack events commonly show between CREATE_IN_PROGRESS and
# CREATE_COMPLETE in a commercial region. Estimates, not guarantees: they
# vary by region, time of day and account.
TYPICAL_CREATE_SECONDS = {
    # ALB/NLB provisioning: usually 2-4 minutes until "active".
    "AWS::ElasticLoadBalancingV2::LoadBalancer": 180,
    "AWS::ElasticLoadBalancingV2::TargetGroup": 5,
    "AWS::ElasticLoadBalancingV2::Listener": 5,
    # Instance launch, boot, container image pull, then cfn-signal under the
    # group's CreationPolicy: about 5 minutes.
    "AWS::AutoScaling::AutoScalingGroup": 300,
    "AWS::EC2::LaunchTemplate": 5,
    # A single-node Redis cluster: 6-10 minutes.
    "AWS::ElastiCache::CacheCluster": 480,
    "AWS::ElastiCache::SubnetGroup": 5,
    # On-demand table until ACTIVE, plus the point-in-time-recovery update.
    "AWS::DynamoDB::Table": 20,
    # CloudFormation waits for IAM's eventual consistency after a role...
    "AWS::IAM::Role": 15,
    # ...and notoriously about 2 minutes after an instance profile.
    "AWS::IAM::InstanceProfile": 120,
    "AWS::IAM::Policy": 15,
    "AWS::IAM::ManagedPolicy": 15,
    # Delivery stream from CREATING to ACTIVE: about a minute.
    "AWS::KinesisFirehose::DeliveryStream": 60,
    # Until the function is Active; a function in a VPC can take longer while
    # its network interfaces are set up.
    "AWS::Lambda::Function": 10,
    "AWS::Lambda::Permission": 5,
    "AWS::SecretsManager::Secret": 5,
    # Bucket creation plus CloudFormation's wait for it to be usable.
    "AWS::S3::Bucket": 25,
    "AWS::S3::BucketPolicy": 5,
    "AWS::Logs::LogGroup": 5,
    "AWS::EC2::SecurityGroup": 5,
    "AWS::EC2::SecurityGroupIngress": 5,
    "AWS::EC2::SecurityGroupEgress": 5,
    "AWS::SSM::Parameter": 5,
    # An alias record until Route 53 reports it in sync: up to a minute.
    "AWS::Route53::RecordSet": 60,
    # A Lambda-backed custom resource: one invocation and its response.
    "AWS::CloudFormation::CustomResource": 15,
    # autopush-rs's store, a Valkey replication group (two nodes, Multi-AZ): 10-15 minutes.
    "AWS::ElastiCache::ReplicationGroup": 900,
    "AWS::ECR::Repository": 5,
    "AWS::CodeBuild::Project": 5,
    # Anything else: most simple resources complete within seconds.
    "default": 5,
}

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _references(node: object, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found.update(name for name in _SUB_NAME.findall(text) if name not in variables)
                _references(variables, found)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def dependencies(template: dict) -> dict[str, set[str]]:
    """For each resource, the resources it waits for."""
    resources = template.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        _references(resource.get("Properties", {}), found)
        _references(resource.get("Metadata", {}), found)
        depends_on = resource.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        graph[name] = {target for target in found if target in resources and target != name}
    return graph


def critical_path(template: dict, seconds: dict[str, float]) -> tuple[float, list[str]]:
    """Longest chain of creation times through the dependency graph.

    ``seconds`` maps a resource type to its typical creation time; unknown
    types count as ``seconds.get("default", 5)``.
    """
    resources = template.get("Resources", {})
    graph = dependencies(template)
    done: dict[str, tuple[float, list[str]]] = {}

    def finish(name: str) -> tuple[float, list[str]]:
        if name not in done:
            own = seconds.get(resources[name]["Type"], seconds.get("default", 5.0))
            before = max((finish(dep) for dep in graph[name]), default=(0.0, []))
            done[name] = (before[0] + own, [*before[1], name])
        return done[name]

    return max((finish(name) for name in resources), default=(0.0, []))
