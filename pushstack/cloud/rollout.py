"""Which node groups an update replaces, and why: read from a change set's resource
changes, the change set's template, and the AMI the stack's SSM parameter names today.

An Auto Scaling group with a rolling update policy (every group pushstack makes)
replaces its nodes, a batch at a time, when its launch template gets a new version
(any change of ``LaunchTemplateData``: the AMI, the boot script, the instance type...)
or when its launch template, subnets (``VPCZoneIdentifier``) or instance mix change.
Connection nodes hold the clients' WebSocket connections: each node replaced drops
them, and the clients reconnect.

The AMI of a template without a pinned one comes from an SSM-typed parameter
(``LatestAmiId``) that CloudFormation resolves again on every update: after Amazon
publishes a new AMI, any update replaces every node, even one that changes nothing
else, and neither the change set's parameters nor the template diff show it (the
parameter's value, the SSM name, is the same). So the AMI the stack resolved when
deployed (DescribeStacks' ``ResolvedValue``; the sandbox reports it as the value
itself) is compared with what the parameter names today (SSM GetParameters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pushstack.changes import references
from pushstack.cloud.errors import CloudError
from pushstack.cloud.preflight import ssm_value
from pushstack.cloud.views import Change

AMI_TYPE = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
GROUP_TYPE = "AWS::AutoScaling::AutoScalingGroup"
# The group's properties whose change makes its rolling update replace the nodes.
ROLLING_PROPERTIES = {
    "LaunchTemplate": "its launch template",
    "LaunchConfigurationName": "its launch configuration",
    "MixedInstancesPolicy": "its instance mix",
    "VPCZoneIdentifier": "its subnets (VPCZoneIdentifier)",
}
# A launch template's data, in the user's words.
TEMPLATE_DATA = {
    "ImageId": "the AMI (ImageId)",
    "UserData": "the boot script (UserData)",
    "InstanceType": "the instance type",
    "KeyName": "the SSH key pair",
    "NetworkInterfaces": "the network interfaces (security groups)",
    "IamInstanceProfile": "the instance profile",
    "BlockDeviceMappings": "the disk",
    "MetadataOptions": "the instance metadata options",
}
# pushstack's node groups; only connection nodes hold clients' connections.
GROUPS = {
    "ConnectionNodes": ("connection nodes", True),
    "EndpointNodes": ("endpoint nodes", False),
    "MessagesApiNodes": ("Messages API nodes", False),
}


@dataclass(frozen=True)
class AmiUpdate:
    """The AMI the stack's nodes run (resolved when it was last deployed) and the one the
    update would give them (what the SSM parameter names today)."""

    parameter: str  # the template's parameter, e.g. LatestAmiId
    ssm_name: str  # /aws/service/ami-amazon-linux-latest/...
    deployed: str  # "" when AWS did not say
    current: str

    @property
    def new(self) -> bool:
        return bool(self.deployed and self.current and self.deployed != self.current)


@dataclass(frozen=True)
class GroupRollout:
    """What an update does to one node group's nodes."""

    logical_id: str
    what: str  # "connection nodes"
    clients: bool  # whether its nodes hold clients' WebSocket connections
    replaced: bool  # every node replaced (a rolling update, or a new group)
    reasons: tuple[str, ...] = ()
    fewer: int = 0  # nodes removed by a smaller desired capacity
    batch: int = 0  # nodes replaced at a time (the rolling update's MaxBatchSize), 0: unknown


@dataclass(frozen=True)
class Rollout:
    """The node groups an update touches, the AMI check, and why the check could not be
    made (``problem``), if it could not."""

    groups: tuple[GroupRollout, ...] = ()
    ami: AmiUpdate | None = None
    problem: str = ""

    @property
    def replaced(self) -> tuple[GroupRollout, ...]:
        return tuple(group for group in self.groups if group.replaced)

    @property
    def drops_connections(self) -> bool:
        return any(group.clients and (group.replaced or group.fewer) for group in self.groups)


def _parameter(entries, name: str) -> Mapping:
    for entry in entries or ():
        if entry.get("ParameterKey") == name:
            return entry
    return {}


def ami_update(
    call: Callable, stack: Mapping, reply: Mapping, new_template: Mapping, region: str
) -> AmiUpdate | None:
    """The AMI check of the change set's template's SSM-typed AMI parameter, when it has
    one; a ``CloudError`` when the SSM parameter cannot be read."""
    for name, spec in (new_template.get("Parameters") or {}).items():
        if str((spec or {}).get("Type", "")) != AMI_TYPE:
            continue
        deployed_entry = _parameter(stack.get("Parameters"), name)
        candidates = (
            _parameter(reply.get("Parameters"), name).get("ParameterValue"),
            deployed_entry.get("ParameterValue"),
            (spec or {}).get("Default"),
        )
        ssm_name = next((str(v) for v in candidates if v and str(v).startswith("/")), "")
        if not ssm_name:
            return None
        # A stack that pinned its AMI until now has no such parameter: deployed is "", the
        # template diff shows its ImageId going to the AMI named today.
        value = str(deployed_entry.get("ParameterValue") or "")
        deployed = str(deployed_entry.get("ResolvedValue") or "") or (
            "" if value.startswith("/") else value
        )
        return AmiUpdate(name, ssm_name, deployed, ssm_value(call, ssm_name, region))
    return None


def _launch_template_of(group: Mapping) -> str:
    spec = (group.get("Properties") or {}).get("LaunchTemplate") or {}
    for key in ("LaunchTemplateId", "LaunchTemplateName"):
        ref = spec.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("Ref"), str):
            return ref["Ref"]
    return ""


def _batch(group: Mapping) -> int:
    rolling = (group.get("UpdatePolicy") or {}).get("AutoScalingRollingUpdate") or {}
    try:
        return int(rolling.get("MaxBatchSize") or 0)
    except (TypeError, ValueError):
        return 0


def _data_reasons(change: Change, skip_image: bool, ami: AmiUpdate | None = None) -> list[str]:
    reasons, seen = [], set()
    for prop in change.properties:
        parts = prop.path.split(".")
        if parts[0] != "LaunchTemplateData" or len(parts) < 2:
            continue
        key = parts[1]
        if (key == "ImageId" and skip_image) or key in seen:
            continue
        seen.add(key)
        words = TEMPLATE_DATA.get(key, key)
        if key == "InstanceType" and prop.old and prop.new:
            words += f" ({prop.old} → {prop.new})"
        elif key == "ImageId" and ami and prop.old and prop.new == ami.ssm_name:
            words += f": {prop.old} → {ami.current} (what {ami.ssm_name} names today)"
        elif key == "ImageId" and prop.old and prop.new:
            words += f": {prop.old} → {prop.new}"
        elif prop.causes:
            words += f", which reads {', '.join(prop.causes)}"
        reasons.append(words)
    return reasons


def _fewer(change: Change | None) -> int:
    for prop in change.properties if change else ():
        if prop.path == "DesiredCapacity":
            try:
                return max(0, int(prop.old or 0) - int(prop.new or 0))
            except ValueError:
                return 0
    return 0


def groups(
    changes: Iterable[Change], new_template: Mapping, ami: AmiUpdate | None = None
) -> tuple[GroupRollout, ...]:
    """The node groups of ``new_template`` whose nodes the update replaces or removes."""
    by_id = {change.logical_id: change for change in changes}
    resources = new_template.get("Resources") or {}
    found = []
    for logical_id, group in resources.items():
        if not isinstance(group, Mapping) or group.get("Type") != GROUP_TYPE:
            continue
        what, clients = GROUPS.get(logical_id, (logical_id, False))
        own = by_id.get(logical_id)
        if own is not None and own.action != "Modify":
            continue  # a group added or removed: new nodes or none, no replacement
        reasons: list[str] = []
        template_id = _launch_template_of(group)
        reads_ami = bool(
            ami and ami.new and ami.parameter in references(resources.get(template_id) or {})
        )
        if own is not None and own.replacement == "True":
            reasons.append("the group itself is replaced by a new one")
        launch = by_id.get(template_id)
        if launch is not None and launch.action == "Modify":
            data = _data_reasons(launch, skip_image=reads_ami, ami=ami)
            if not data and not reads_ami:  # AWS's word only, no property named
                data = ["its launch template, which the change set lists as modified"]
            reasons += data
        if reads_ami:
            reasons.append(f"a new AMI: {ami.deployed} → {ami.current}")
        for prop in own.properties if own else ():
            root = prop.path.split(".")[0]
            if root == "LaunchTemplate" and launch is not None:
                continue  # the new version of a launch template named above
            words = ROLLING_PROPERTIES.get(root)
            if words and words not in reasons:
                reasons.append(words)
        fewer = _fewer(own)
        if reasons or fewer:
            found.append(
                GroupRollout(
                    logical_id=logical_id,
                    what=what,
                    clients=clients,
                    replaced=bool(reasons),
                    reasons=tuple(reasons),
                    fewer=fewer,
                    batch=_batch(group),
                )
            )
    return tuple(found)


def of_change_set(
    call: Callable,
    changes: Iterable[Change],
    stack: Mapping,
    reply: Mapping,
    new_template: Mapping,
    region: str,
) -> Rollout:
    """What the change set does to the nodes; the AMI check's failure is ``problem``, the
    groups are still worked out from the changes."""
    changes = tuple(changes)
    try:
        ami = ami_update(call, stack, reply, new_template, region)
    except CloudError as error:
        return Rollout(
            groups=groups(changes, new_template),
            problem=(
                "Whether Amazon published a new AMI since the last update could not be "
                f"checked: {error.message} {error.advice}"
            ).strip(),
        )
    return Rollout(groups=groups(changes, new_template, ami), ami=ami)
