"""What a deployed template says: its resources (with Conditions resolved), outputs, secrets;
and ``build``, the template of a launch or an update."""

from __future__ import annotations

import json
from collections.abc import Mapping

import yaml

from pushstack.options import Options

IAM_TYPES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::UserToGroupAddition": None,
}


def build(options: Options):
    """The stack's template (imported on use: reading stacks needs no troposphere model)."""
    from pushstack.template import build_template

    return build_template(options)


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub ...) read as plain values."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor("!", _tag)


def parse(body: object) -> dict:
    """A template dict from GetTemplate's body (a dict, JSON text or YAML text)."""
    if isinstance(body, Mapping):
        return dict(body)
    text = str(body or "")
    try:
        return json.loads(text)
    except ValueError:
        loaded = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
        return loaded if isinstance(loaded, dict) else {}


def required_capabilities(template: Mapping) -> tuple[str, ...]:
    """CAPABILITY_IAM for IAM resources, CAPABILITY_NAMED_IAM when one has a fixed name,
    CAPABILITY_AUTO_EXPAND for macros."""
    capabilities = []
    named = False
    has_iam = False
    for resource in (template.get("Resources") or {}).values():
        kind = resource.get("Type", "")
        if kind in IAM_TYPES:
            has_iam = True
            name_property = IAM_TYPES[kind]
            if name_property and name_property in (resource.get("Properties") or {}):
                named = True
    if has_iam:
        capabilities.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    if template.get("Transform"):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    return tuple(capabilities)


def _parameter_values(template: Mapping, parameters: Mapping[str, str]) -> dict[str, str]:
    values = {
        name: str(spec.get("Default"))
        for name, spec in (template.get("Parameters") or {}).items()
        if "Default" in spec
    }
    values.update(parameters)
    return values


def conditions(template: Mapping, parameters: Mapping[str, str]) -> dict[str, bool]:
    """Each Condition's value as far as the parameters allow (unknown counts as true)."""
    values = _parameter_values(template, parameters)
    definitions = template.get("Conditions") or {}
    resolved: dict[str, bool] = {}

    def value_of(item):
        if isinstance(item, Mapping) and set(item) == {"Ref"}:
            return values.get(item["Ref"])
        if isinstance(item, Mapping) and "Fn::Join" in item:
            separator, parts = item["Fn::Join"]
            texts = [value_of(part) for part in parts]
            return None if None in texts else separator.join(texts)
        if isinstance(item, Mapping) and "Fn::Select" in item:
            index, items = item["Fn::Select"]
            listed = value_of(items)
            if isinstance(listed, str):
                listed = listed.split(",")
            try:
                return listed[int(index)]
            except (TypeError, ValueError, IndexError):
                return None
        return item if isinstance(item, str | int | float | bool) else None

    def evaluate(expression, seen=()) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, Mapping) or len(expression) != 1:
            return True
        ((operator, argument),) = expression.items()
        if operator == "Condition":
            return condition(argument, seen)
        if operator == "Fn::Equals":
            left, right = (value_of(item) for item in argument)
            if left is None or right is None:
                return True
            return (
                str(left).lower() == str(right).lower()
                if isinstance(right, bool)
                else str(left) == str(right)
            )
        if operator == "Fn::Not":
            return not evaluate(argument[0], seen)
        if operator == "Fn::And":
            return all(evaluate(item, seen) for item in argument)
        if operator == "Fn::Or":
            return any(evaluate(item, seen) for item in argument)
        return True

    def condition(name, seen=()) -> bool:
        if name in resolved:
            return resolved[name]
        if name in seen or name not in definitions:
            return True
        resolved[name] = evaluate(definitions[name], (*seen, name))
        return resolved[name]

    for name in definitions:
        condition(name)
    return resolved


def resources(template: Mapping, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    """Logical id -> type of the resources the stack has with these parameters."""
    active = conditions(template, parameters or {})
    return {
        logical_id: resource.get("Type", "")
        for logical_id, resource in (template.get("Resources") or {}).items()
        if active.get(resource.get("Condition"), True)
    }


def outputs(template: Mapping, parameters: Mapping[str, str] | None = None) -> list[str]:
    active = conditions(template, parameters or {})
    return [
        key
        for key, output in (template.get("Outputs") or {}).items()
        if active.get(output.get("Condition"), True)
    ]


def secret_parameters(template: Mapping) -> set[str]:
    return {
        name
        for name, spec in (template.get("Parameters") or {}).items()
        if str(spec.get("NoEcho", "")).lower() == "true"
    }


def list_parameters(template: Mapping) -> set[str]:
    """Parameters holding lists (``List<...>``, ``CommaDelimitedList``): AWS answers their
    values as "a,b", the sandbox as "['a', 'b']"."""
    return {
        name
        for name, spec in (template.get("Parameters") or {}).items()
        if str(spec.get("Type", "")).startswith(("List<", "CommaDelimitedList"))
    }


def retained(template: Mapping) -> set[str]:
    """Logical ids of the resources a delete keeps (DeletionPolicy Retain)."""
    return {
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    }
