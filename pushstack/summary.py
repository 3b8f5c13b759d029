"""What a template creates, in plain words: resources by type, network rules, IAM rights."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

ANYONE_CIDRS = ("0.0.0.0/0", "::/0")
_PROTOCOLS = {"tcp": "TCP", "6": "TCP", "udp": "UDP", "17": "UDP", "icmp": "ICMP", "1": "ICMP"}
_AWS_MANAGED_POLICY = re.compile(
    r"arn:(?:\$\{AWS::Partition\}|[a-z-]+):iam::aws:policy/((?:.*/)?([^/]+))"
)
_ANY = "*"
# What the AWS managed policies a pushstack template attaches, or attached, grant: the
# statements of their JSON policy documents (AWS Managed Policy Reference, version noted),
# so that the preview shows actions and resources, never a policy's name alone. A
# managed policy not in this table is shown as not expanded.
AWS_MANAGED_POLICIES: dict[str, tuple[dict, ...]] = {
    # v1: what a Lambda function needs to write its logs.
    "service-role/AWSLambdaBasicExecutionRole": (
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": _ANY,
        },
    ),
    # v3 (2024-01-05): the processor's role; a function in a VPC manages its interfaces.
    "service-role/AWSLambdaVPCAccessExecutionRole": (
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": _ANY,
        },
    ),
    # v1 (2024-10-04): the legacy engine's and the Messages API's nodes pull their
    # images' copies (and the operator's own ECR images) with it.
    "AmazonEC2ContainerRegistryPullOnly": (
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchImportUpstreamImage",
            ],
            "Resource": _ANY,
        },
    ),
    # v2 (2019-05-23): the node roles' before #16, which read every SSM parameter.
    "AmazonSSMManagedInstanceCore": (
        {
            "Effect": "Allow",
            "Action": [
                "ssm:DescribeAssociation",
                "ssm:GetDeployablePatchSnapshotForInstance",
                "ssm:GetDocument",
                "ssm:DescribeDocument",
                "ssm:GetManifest",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:ListAssociations",
                "ssm:ListInstanceAssociations",
                "ssm:PutInventory",
                "ssm:PutComplianceItems",
                "ssm:PutConfigurePackageResult",
                "ssm:UpdateAssociationStatus",
                "ssm:UpdateInstanceAssociationStatus",
                "ssm:UpdateInstanceInformation",
            ],
            "Resource": _ANY,
        },
        {
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": _ANY,
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2messages:AcknowledgeMessage",
                "ec2messages:DeleteMessage",
                "ec2messages:FailMessage",
                "ec2messages:GetEndpoint",
                "ec2messages:GetMessages",
                "ec2messages:SendReply",
            ],
            "Resource": _ANY,
        },
    ),
}
_NO_VALUE = {"Ref": "AWS::NoValue"}
STACK_ID = "<stack id>"
STACK_NAME = "<stack name>"
# arn:partition:service:region:account:resource; a field may hold ${AWS::Partition}.
_ARN_FIELD = r"(?:\$\{[^}]*\}|[^:$])*"
_ARN = re.compile(rf"arn:{_ARN_FIELD}:({_ARN_FIELD}):({_ARN_FIELD}):({_ARN_FIELD}):(.+)", re.S)
_THIS_REGION = ("", "${AWS::Region}")
_THIS_ACCOUNT = ("", "${AWS::AccountId}")
_ATTRIBUTE_ARN = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")


@dataclass(frozen=True)
class Summary:
    """What the template creates, for the preview page."""

    resource_counts: list[tuple[str, int]] = field(default_factory=list)
    ingress: list[str] = field(default_factory=list)
    permissions: dict[str, list[str]] = field(default_factory=dict)


def summarize(template: dict) -> Summary:
    """The summary of a template dict (as from troposphere's ``to_dict()``)."""
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        resources = {}
    resources = {name: r for name, r in resources.items() if isinstance(r, dict)}
    parameters = template.get("Parameters") if isinstance(template, dict) else None
    parameter_names = set(parameters) if isinstance(parameters, dict) else set()
    counts = Counter(str(resource.get("Type", "(no type)")) for resource in resources.values())
    return Summary(
        resource_counts=sorted(counts.items()),
        ingress=network_rules(resources, parameter_names),
        permissions=role_permissions(resources),
    )


# Intrinsic functions as text.


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def text(value: object) -> str:
    """A value as a reader would name it: a Ref or GetAtt is the logical id."""
    if isinstance(value, dict) and len(value) == 1:
        function, argument = next(iter(value.items()))
        if function == "Ref" and isinstance(argument, str):
            return argument
        if function == "Fn::GetAtt":
            name = _getatt_name(argument)
            if name:
                return name
        if function == "Fn::If":
            return _if_text(argument, text)
    return embedded(value)


def embedded(value: object) -> str:
    """A value as part of a longer string: references kept as ``${...}`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return compact_json(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        function, argument = next(iter(value.items()))
        if function == "Ref" and isinstance(argument, str):
            return "${" + argument + "}"
        if function == "Fn::GetAtt" and _getatt_name(argument):
            if isinstance(argument, list):
                return "${" + ".".join(str(part) for part in argument) + "}"
            return "${" + argument + "}"
        if function == "Fn::Sub":
            return _sub_text(argument)
        if function == "Fn::Join" and _is_join(argument):
            return str(argument[0]).join(embedded(part) for part in argument[1])
        if function == "Fn::If":
            return _if_text(argument, embedded)
        if function == "Fn::Select" and _is_select_of_split(argument):
            whole = embedded(argument[1]["Fn::Split"][1])
            if whole in ("${AWS::StackId}", STACK_ID):
                return STACK_ID  # a piece of the stack id, as names made unique use it
            return whole if whole.startswith("(part of ") else f"(part of {whole})"
    if isinstance(value, list):
        return ", ".join(text(item) for item in value)
    return compact_json(value)


def _getatt_name(argument: object) -> str | None:
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return argument[0]
    if isinstance(argument, str) and argument:
        return argument.split(".")[0]
    return None


def _is_join(argument: object) -> bool:
    return (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], list)
    )


def _is_select_of_split(argument: object) -> bool:
    """``Fn::Select [n, Fn::Split [delimiter, text]]``, as in names made unique by the stack id."""
    return (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[1], dict)
        and set(argument[1]) == {"Fn::Split"}
        and isinstance(argument[1]["Fn::Split"], list)
        and len(argument[1]["Fn::Split"]) == 2
    )


def _sub_text(argument: object) -> str:
    if isinstance(argument, str):
        return argument
    if (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], dict)
    ):
        variables = argument[1]

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in variables:
                return match.group(0)
            return embedded(variables[name])

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, argument[0])
    return compact_json({"Fn::Sub": argument})


def _if_text(argument: object, render) -> str:
    if not (isinstance(argument, list) and len(argument) == 3):
        return compact_json({"Fn::If": argument})
    condition, when_true, when_false = argument
    if when_false == _NO_VALUE:
        return f"{render(when_true)} (when {embedded(condition)})"
    if when_true == _NO_VALUE:
        return f"{render(when_false)} (unless {embedded(condition)})"
    return f"one of {render(when_true)} or {render(when_false)}"


def _branches(value: object, note: str = "") -> Iterator[tuple[object, str]]:
    """The values an ``Fn::If`` may take, each with when it applies; AWS::NoValue dropped."""
    if value == _NO_VALUE:
        return
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        argument = value["Fn::If"]
        if isinstance(argument, list) and len(argument) == 3:
            condition = embedded(argument[0])
            yield from _branches(argument[1], _join_notes(note, f"when {condition}"))
            yield from _branches(argument[2], _join_notes(note, f"unless {condition}"))
            return
    yield value, note


def _join_notes(first: str, second: str) -> str:
    return f"{first}, {second}" if first else second


def _items(value: object) -> Iterator[tuple[object, str]]:
    """Items of a list that may itself be, or hold, ``Fn::If``s."""
    for branch, note in _branches(value):
        if isinstance(branch, list):
            for item in branch:
                for leaf, leaf_note in _branches(item):
                    yield leaf, _join_notes(note, leaf_note)
        else:
            yield branch, note


def _with_note(sentence: str, note: str) -> str:
    return f"{sentence} (only {note})" if note else sentence


# Security groups.


def network_rules(resources: dict, parameter_names: set[str] = frozenset()) -> list[str]:
    """One sentence per security-group rule, ingress then egress, in template order."""
    sentences: list[str] = []
    internal = _internal_only_groups(resources)
    for kind in ("ingress", "egress"):
        for name, resource in resources.items():
            kind_type = resource.get("Type")
            properties = resource.get("Properties")
            if not isinstance(properties, dict):
                continue
            resource_note = _resource_note(resource)
            if kind_type == "AWS::EC2::SecurityGroup":
                key = "SecurityGroupIngress" if kind == "ingress" else "SecurityGroupEgress"
                for rule, note in _items(properties.get(key, [])):
                    note = _join_notes(resource_note, note)
                    sentence = _with_note(_rule(name, rule, kind, parameter_names), note)
                    if name in internal and "open to anyone" in sentence:
                        sentence += f" through the internal load balancer {internal[name]}"
                    sentences.append(sentence)
            elif kind_type == f"AWS::EC2::SecurityGroup{kind.capitalize()}":
                group = properties.get("GroupId", properties.get("GroupName", name))
                sentence = _rule(text(group), properties, kind, parameter_names)
                sentences.append(_with_note(sentence, resource_note))
    return sentences


def _internal_only_groups(resources: dict) -> dict[str, str]:
    """Security groups used only by internal load balancers, each with one of them:
    "anyone" there means anyone who can reach the VPC, not the internet."""
    users: dict[str, list[bool]] = {}
    balancer_of: dict[str, str] = {}
    for name, resource in resources.items():
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            continue
        groups = properties.get("SecurityGroups", properties.get("SecurityGroupIds", []))
        if not isinstance(groups, list):
            continue
        is_internal = (
            resource.get("Type") == "AWS::ElasticLoadBalancingV2::LoadBalancer"
            and properties.get("Scheme") == "internal"
        )
        for group in groups:
            if isinstance(group, dict) and set(group) == {"Ref"}:
                users.setdefault(group["Ref"], []).append(is_internal)
                balancer_of.setdefault(group["Ref"], name)
    return {group: balancer_of[group] for group, flags in users.items() if all(flags)}


def _resource_note(resource: dict) -> str:
    condition = resource.get("Condition")
    return f"when {embedded(condition)}" if condition else ""


def _rule(group: str, rule: object, kind: str, parameter_names: set[str]) -> str:
    if not isinstance(rule, dict):
        return f"{group}: {kind} rule {compact_json(rule)}"
    what = _traffic(rule)
    if kind == "ingress":
        source = _peer(rule, "SourceSecurityGroupId", "SourcePrefixListId", parameter_names)
        if what == "all traffic":
            return f"{group}: all traffic open to {source}"
        return f"{group}: {what} open to {source}"
    destination = _peer(
        rule, "DestinationSecurityGroupId", "DestinationPrefixListId", parameter_names
    )
    if what == "all traffic":
        return f"{group}: may reach {destination} on any protocol and port"
    return f"{group}: may reach {destination} on {what}"


def _traffic(rule: dict) -> str:
    """'TCP port 443', 'UDP ports 1024-65535', 'all traffic'."""
    protocol = embedded(rule.get("IpProtocol", "-1")).lower()
    if protocol in ("-1", "all"):
        return "all traffic"
    name = _PROTOCOLS.get(protocol, f"protocol {protocol}")
    low, high = rule.get("FromPort"), rule.get("ToPort", rule.get("FromPort"))
    if name == "ICMP":
        if low in (None, -1, "-1"):
            return "ICMP (all types)"
        return f"ICMP type {embedded(low)}"
    if low is None and high is None:
        return f"{name} (all ports)"
    low_text, high_text = embedded(low), embedded(high)
    if (low_text, high_text) in (("0", "65535"), ("-1", "-1")):
        return f"{name} (all ports)"
    if low_text == high_text:
        return f"{name} port {low_text}"
    return f"{name} ports {low_text}-{high_text}"


def _peer(rule: dict, group_key: str, prefix_list_key: str, parameter_names: set[str]) -> str:
    """Who the rule lets in, or lets out to, in words."""
    for key in ("CidrIp", "CidrIpv6"):
        if key in rule:
            return _network(rule[key], parameter_names)
    if group_key in rule:
        return text(rule[group_key])
    if "SourceSecurityGroupName" in rule and group_key.startswith("Source"):
        return text(rule["SourceSecurityGroupName"])
    if prefix_list_key in rule:
        return f"the prefix list {text(rule[prefix_list_key])}"
    return "nobody named (no source or destination given)"


def _network(cidr: object, parameter_names: set[str]) -> str:
    if isinstance(cidr, str):
        return f"anyone ({cidr})" if cidr in ANYONE_CIDRS else f"the network {cidr}"
    if isinstance(cidr, dict) and set(cidr) == {"Ref"} and cidr["Ref"] in parameter_names:
        return f"the network given as {cidr['Ref']}"
    return f"the network {text(cidr)}"


# IAM roles.


def role_permissions(resources: dict) -> dict[str, list[str]]:
    """For each IAM role, who may assume it and what it may do, in sentences."""
    roles = [name for name, r in resources.items() if r.get("Type") == "AWS::IAM::Role"]
    attached: dict[str, list[tuple[str, dict]]] = {role: [] for role in roles}
    for name, resource in resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        properties = _properties(resource)
        for role, _note in _items(properties.get("Roles", [])):
            role_name = text(role)
            if role_name in attached:
                attached[role_name].append((name, properties))
    return {
        role: _role_sentences(_properties(resources[role]), attached[role], resources)
        for role in roles
    }


def _properties(resource: dict) -> dict:
    properties = resource.get("Properties")
    return properties if isinstance(properties, dict) else {}


def _role_sentences(
    properties: dict, attached: list[tuple[str, dict]], resources: dict
) -> list[str]:
    sentences = _assumed_by(properties.get("AssumeRolePolicyDocument"))
    for policy, note in _items(properties.get("Policies", [])):
        document = policy.get("PolicyDocument") if isinstance(policy, dict) else policy
        sentences.extend(_with_note(s, note) for s in _statements(document, resources))
    for _name, policy_properties in attached:
        sentences.extend(_statements(policy_properties.get("PolicyDocument"), resources))
    for arn, note in _items(properties.get("ManagedPolicyArns", [])):
        sentences.extend(_with_note(s, note) for s in _managed_policy(arn, resources))
    return sentences


def _assumed_by(document: object) -> list[str]:
    sentences = []
    for statement in _statement_list(document):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            sentences.append("assumed by anyone")
        elif isinstance(principal, dict):
            for kind, who in principal.items():
                names = [text(item) for item in (who if isinstance(who, list) else [who])]
                prefix = "" if kind == "Service" else f"{kind} principal "
                sentences.append(f"assumed by {prefix}{', '.join(names)}")
        elif principal is not None:
            sentences.append(f"assumed by {text(principal)}")
    return sentences


def _managed_policy(arn: object, resources: dict) -> list[str]:
    name = text(arn)
    if isinstance(arn, dict) and set(arn) == {"Ref"} and name in resources:
        return _statements(_properties(resources[name]).get("PolicyDocument"), resources)
    match = _AWS_MANAGED_POLICY.fullmatch(name)
    if match:
        path, short = match.groups()
        statements = AWS_MANAGED_POLICIES.get(path)
        if statements is None:
            return [
                f"AWS managed policy {short}: grants what AWS's policy {short} grants, not expanded"
            ]
        sentences = _statements({"Statement": list(statements)}, resources)
        return [f"{sentence} (AWS managed policy {short})" for sentence in sentences]
    words = _resource_words(arn, resources)
    named = f"managed {words}" if words.startswith("policy ") else f"managed policy {words}"
    # A policy outside the template: what it grants is not known here, and said so.
    return [f"{named}: grants what that policy grants, not expanded"]


def _statement_list(document: object) -> list:
    if not isinstance(document, dict):
        return [] if document is None else [document]
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _statements(document: object, resources: dict) -> list[str]:
    """One sentence per service of each statement of a policy document."""
    sentences = []
    for statement in _statement_list(document):
        for item, note in _branches(statement):
            sentences.extend(_with_note(s, note) for s in _statement(item, resources))
    return sentences


def _statement(statement: object, resources: dict) -> list[str]:
    if not isinstance(statement, dict):
        return [f"statement {compact_json(statement)}"]
    effect = statement.get("Effect")
    prefix = "" if effect == "Allow" else "denied: " if effect == "Deny" else f"{effect}: "
    if "Resource" in statement:
        where = _resources(statement["Resource"], resources)
    elif "NotResource" in statement:
        where = f"any resource except {_resources(statement['NotResource'], resources)}"
    else:
        where = "no resource named"
    suffix = " (with conditions)" if statement.get("Condition") else ""
    if "NotAction" in statement:
        actions = _names(statement["NotAction"])
        return [f"{prefix}every action except {', '.join(actions)} on {where}{suffix}"]
    sentences = []
    for service, verbs in _by_service(_names(statement.get("Action", []))).items():
        doing = f"{service}: {', '.join(verbs)}" if service else ", ".join(verbs)
        sentences.append(f"{prefix}{doing} on {where}{suffix}")
    return sentences


def _names(value: object) -> list[str]:
    return [text(item) for item in (value if isinstance(value, list) else [value])]


def _by_service(actions: list[str]) -> dict[str, list[str]]:
    """'dynamodb:GetItem' -> {'dynamodb': ['GetItem']}, in order of first mention."""
    grouped: dict[str, list[str]] = {}
    for action in actions:
        if action == "*":
            grouped.setdefault("", []).append("every action")
            continue
        service, _, verb = action.partition(":")
        if not verb:
            service, verb = "", action
        grouped.setdefault(service, []).append("all actions" if verb == "*" else verb)
    return grouped


def _resources(value: object, resources: dict) -> str:
    items = value if isinstance(value, list) else [value]
    return ", ".join(_resource_words(item, resources) for item in items)


def _resource_words(value: object, resources: dict) -> str:
    """What a policy's Resource names: a logical id, or an ARN without its boilerplate.

    'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/T' reads
    'table T'; an S3 ARN reads 'bucket B' or 'objects B/key'; a bucket of the
    template ('${LogBucket.Arn}/logs/*') reads 'objects LogBucket/logs/*'.
    """
    if value == "*":
        return "any resource"
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return _if_text(value["Fn::If"], lambda branch: _resource_words(branch, resources))
    is_arn_attribute = (
        isinstance(value, dict)
        and set(value) == {"Fn::GetAtt"}
        and embedded(value).endswith(".Arn}")
    )
    words = embedded(value) if is_arn_attribute else text(value)
    match = _ATTRIBUTE_ARN.match(words)
    if match:
        name, rest = match.group(1), words[match.end() :]
        resource = resources.get(name)
        if isinstance(resource, dict) and resource.get("Type") == "AWS::S3::Bucket":
            return f"objects {name}{rest}" if rest.startswith("/") else f"bucket {name}{rest}"
        return name + rest
    match = _ARN.fullmatch(words)
    words = _arn_words(*match.groups()) if match else words
    return words.replace("${AWS::StackName}", STACK_NAME)


def _arn_words(service: str, region: str, account: str, resource: str) -> str:
    if service == "s3":
        words = f"objects {resource}" if "/" in resource else f"bucket {resource}"
    elif resource == "*":
        words = f"every {service} resource"
    else:
        # 'table/T', 'cluster:C', 'policy/path/P'; some services give the name alone.
        parts = re.split(r"[:/]", resource, maxsplit=1)
        words = " ".join(parts) if len(parts) == 2 and all(parts) else f"{service} {resource}"
    where = []
    if account not in _THIS_ACCOUNT and account != "aws":
        where.append("any account" if account == "*" else f"account {account}")
    if region not in _THIS_REGION:
        where.append("any region" if region == "*" else f"region {region}")
    return f"{words} ({', '.join(where)})" if where else words
