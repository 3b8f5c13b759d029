"""What a stack update changes, worked out from the deployed and the new template.

AWS's change set lists the resources it will touch, but not which parameters
change, and the sandbox lists nothing for a change of values only. Here the
two templates are compared with their parameter values filled in (a ``Ref``
to a parameter, ``${Name}`` in ``Fn::Sub``), so a desired capacity going from
2 to 3 shows as that property of that resource. Whether a property change
replaces its resource comes from AWS when it says so (the change set's
``Details``), and is otherwise predicted from the resource schemas cfn-lint
ships (``createOnlyProperties``). No AWS call and no Flask here.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

MASK = "****"  # AWS's own mask for a NoEcho value
KEPT, REPLACED, UNKNOWN_KEY = "kept", "replaced", "not shown by AWS"
# RequiresRecreation, in AWS's words.
ALWAYS, CONDITIONALLY, NEVER = "Always", "Conditionally", "Never"
# Resource attributes besides Properties: changing them never replaces the resource.
ATTRIBUTES = (
    "Metadata",
    "DependsOn",
    "Condition",
    "CreationPolicy",
    "UpdatePolicy",
    "DeletionPolicy",
    "UpdateReplacePolicy",
)
UNKNOWN = "(known only during the update)"
LONG_TEXT = 120  # characters beyond which a multi-line value is shown as a line diff
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")


@dataclass(frozen=True)
class ParameterChange:
    """A parameter whose value changes. A secret one (the crypto key) never carries
    its values: ``old`` and ``new`` are empty and ``secret`` says "kept", "replaced" or,
    when AWS masks it and no fingerprint tells, "not shown by AWS"."""

    name: str
    old: str
    new: str
    secret: str = ""

    @property
    def changed(self) -> bool:
        return self.secret != KEPT if self.secret else self.old != self.new


@dataclass(frozen=True)
class PropertyChange:
    """One property (``DesiredCapacity``, ``LaunchTemplateData.UserData``) or resource
    attribute (``Metadata``) that changes. ``old`` is None when it is added, ``new``
    None when removed. ``replacement`` is AWS's RequiresRecreation (Always,
    Conditionally, Never); ``predicted`` when AWS did not say and the schema did.
    ``causes`` names the changed parameters it reads; ``diff`` holds the changed
    lines of a long text (a boot script), else it is empty."""

    path: str
    old: str | None
    new: str | None
    replacement: str
    predicted: bool = True
    causes: tuple[str, ...] = ()
    diff: tuple[str, ...] = ()

    @property
    def changed_lines(self) -> int:
        return sum(1 for line in self.diff if line.startswith(("-", "+")))


@dataclass(frozen=True)
class ResourceDiff:
    """What the template comparison finds for one resource."""

    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove
    properties: tuple[PropertyChange, ...] = ()

    @property
    def replacement(self) -> str:
        """The resource's replacement as a change set says it: True, Conditional, False."""
        return resource_replacement(self.properties)


def resource_replacement(properties: Iterable[PropertyChange]) -> str:
    kinds = {change.replacement for change in properties}
    if ALWAYS in kinds:
        return "True"
    if CONDITIONALLY in kinds:
        return "Conditional"
    return "False"


# Parameters.


def parameter_values(template: Mapping, given: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value: the given one, else the template's default; list values
    as "a,b" whether AWS ("a,b") or the sandbox ("['a', 'b']") wrote them."""
    declared = template.get("Parameters") or {}
    values = {}
    for name, spec in declared.items():
        value = given.get(name, (spec or {}).get("Default", ""))
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        value = str(value)
        if "List" in str((spec or {}).get("Type", "")):
            value = _list_text(value)
        values[name] = value
    return values


def align_resolved(old: dict[str, str], new: Mapping[str, str], template: Mapping) -> None:
    """An SSM-typed parameter's value is the name of an SSM parameter (AMI ids through
    ``/aws/service/...``); the sandbox reports the stack's as the value it resolved
    instead. Such a value is compared by name: a resolved one counts as unchanged."""
    for name, spec in (template.get("Parameters") or {}).items():
        typed = str((spec or {}).get("Type", "")).startswith("AWS::SSM::Parameter::Value")
        if typed and name in old and name in new and not old[name].startswith("/"):
            old[name] = new[name]


def _list_text(value: str) -> str:
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    items = (item.strip().strip("'\"") for item in value.split(","))
    return ",".join(item for item in items if item)


def parameter_changes(
    old: Mapping[str, str],
    new: Mapping[str, str],
    secret: Iterable[str],
    key_revision: str = "",
) -> tuple[ParameterChange, ...]:
    """The parameters whose values differ, in the new template's order, and every
    secret one as kept or replaced. A secret's values are masked by AWS on both sides,
    so ``key_revision`` (the key's fingerprint, a parameter of its own) decides when
    both templates have it; the sandbox's values are compared otherwise, and masked
    ones without a revision are "not shown by AWS"."""
    secret = set(secret)
    revision_changed = (
        key_revision in old and key_revision in new and old[key_revision] != new[key_revision]
    )
    changes = []
    for name in [*new, *(name for name in old if name not in new)]:
        before, after = old.get(name), new.get(name)
        if name in secret:
            if key_revision in old and key_revision in new:
                state = REPLACED if revision_changed else KEPT
            elif MASK in (before, after):
                state = UNKNOWN_KEY
            else:
                state = REPLACED if before != after else KEPT
            changes.append(ParameterChange(name, "", "", state))
        elif before != after:
            changes.append(ParameterChange(name, before or "", after or ""))
    return tuple(changes)


# Templates.


def resolve(
    value,
    parameters: Mapping[str, str],
    secret: Iterable[str] = (),
    mappings: Mapping | None = None,
):
    """``value`` with references to parameters replaced by their values (a secret's by
    the mask) and ``Fn::FindInMap`` of fixed keys by the mapping's value; other
    intrinsic functions are kept as they are."""
    secret = set(secret)
    mappings = mappings or {}

    def shown(name: str) -> str:
        return MASK if name in secret else parameters[name]

    def walk(item):
        if isinstance(item, dict):
            if len(item) == 1:
                ((key, inner),) = item.items()
                if key == "Ref" and isinstance(inner, str) and inner in parameters:
                    return shown(inner)
                if key == "Fn::Sub":
                    return _sub(inner, parameters, shown, walk)
                if key == "Fn::FindInMap":
                    found = _in_map(mappings, walk(inner))
                    if found is not None:
                        return found
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


def _in_map(mappings: Mapping, keys):
    if not (isinstance(keys, list) and len(keys) == 3 and all(isinstance(k, str) for k in keys)):
        return None
    value = mappings
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _sub(argument, parameters, shown, walk):
    """Fn::Sub with parameter names filled in (names of its own variables win); a
    string left with no variable is the plain string it now is."""
    own: set[str] = set()
    variables = None
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        own, variables = set(argument[1] or {}), walk(argument[1])
        argument = argument[0]
    if not isinstance(argument, str):
        return {"Fn::Sub": walk(argument)}

    def fill(match):
        name = match.group(1)
        return shown(name) if name in parameters and name not in own else match.group(0)

    filled = _SUB_NAME.sub(fill, argument)
    if variables:
        return {"Fn::Sub": [filled, variables]}
    if not _SUB_NAME.search(filled):
        return filled.replace("${!", "${")
    return {"Fn::Sub": filled}


def references(value) -> set[str]:
    """Names a value refers to: ``Ref``, ``Fn::GetAtt`` and ``${Name}`` in ``Fn::Sub``."""
    found: set[str] = set()

    def walk(item):
        if isinstance(item, dict):
            for key, inner in item.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(target, str):
                        found.add(target.split(".")[0])
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(text, str):
                        found.update(name.split(".")[0] for name in _SUB_NAME.findall(text))
                walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    walk(value)
    return found


def attribute_references(value) -> set[str]:
    """The resources whose attributes a value reads (``Fn::GetAtt``, ``${Name.Attr}``):
    when one of those is updated the attribute may change (a launch template's
    LatestVersionNumber), so the reader is updated too."""
    found: set[str] = set()

    def walk(item):
        if isinstance(item, dict):
            for key, inner in item.items():
                if key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(target, str):
                        found.add(target.split(".")[0])
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(text, str):
                        found.update(n.split(".")[0] for n in _SUB_NAME.findall(text) if "." in n)
                walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    walk(value)
    return found


def _is_intrinsic(value) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))
    )


def _leaf_changes(old, new, path: str) -> list[tuple[str, object, object]]:
    """(path, old, new) of every difference, descending into plain mappings only: a list
    or an intrinsic function is one value."""
    if old == new:
        return []
    if (
        isinstance(old, dict)
        and isinstance(new, dict)
        and not _is_intrinsic(old)
        and not _is_intrinsic(new)
    ):
        found = []
        for key in [*old, *(key for key in new if key not in old)]:
            inner = f"{path}.{key}" if path else key
            found += _leaf_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), inner)
        return found
    return [(path, old, new)]


_ABSENT = object()


def text(value) -> str | None:
    """A value as the page shows it: a string as it is; a script built with Fn::Base64,
    Fn::Join and Fn::Sub as the text it makes, references left as ``${Name}``; the rest
    as JSON, one item a line once it is long (so that a line diff can show it)."""
    if value is _ABSENT:
        return None
    if isinstance(value, str):
        return value
    flat = _flat(value)
    if flat is not None:
        return flat
    compact = json.dumps(value, separators=(",", ": "))
    return compact if len(compact) < LONG_TEXT else json.dumps(value, indent=2)


def _flat(value) -> str | None:
    """The text an Fn::Base64 / Fn::Join / Fn::Sub / Ref / Fn::GetAtt makes, else None."""
    if isinstance(value, str):
        return value
    if not _is_intrinsic(value):
        return None
    ((key, inner),) = value.items()
    if key == "Ref" and isinstance(inner, str):
        return f"${{{inner}}}"
    if key == "Fn::GetAtt":
        return f"${{{'.'.join(inner) if isinstance(inner, list) else inner}}}"
    if key == "Fn::Base64":
        return _flat(inner)
    if key == "Fn::Join" and isinstance(inner, list) and len(inner) == 2:  # noqa: SIM102
        if isinstance(inner[0], str) and isinstance(inner[1], list):
            return inner[0].join(_part(item) for item in inner[1])
    if key == "Fn::Sub":
        if isinstance(inner, str):
            return inner
        if isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], str):
            variables = {name: _part(item) for name, item in (inner[1] or {}).items()}
            return _SUB_NAME.sub(lambda m: variables.get(m.group(1), m.group(0)), inner[0])
    return None


def _part(value) -> str:
    """A piece of a text being built: its own text, else (an Fn::Select ...) its JSON."""
    flat = _flat(value)
    return flat if flat is not None else f"${{{json.dumps(value, separators=(',', ':'))}}}"


def _line_diff(old: str | None, new: str | None) -> tuple[str, ...]:
    if old is None or new is None or "\n" not in old + new or len(old + new) < LONG_TEXT:
        return ()
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
    return tuple(line for line in lines if not line.startswith(("---", "+++")))


def template_diff(
    old_template: Mapping,
    new_template: Mapping,
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
    secret: Iterable[str] = (),
    region: str = "us-east-1",
) -> tuple[ResourceDiff, ...]:
    """Every resource added, removed or modified, with the properties that change and
    the predicted replacement of each. Parameter values are those of ``parameter_values``."""
    secret = set(secret)
    old_resources = old_template.get("Resources") or {}
    new_resources = new_template.get("Resources") or {}
    changed_parameters = {
        name
        for name in {*old_parameters, *new_parameters}
        if old_parameters.get(name) != new_parameters.get(name)
    }
    diffs = []
    for logical_id, resource in new_resources.items():
        before = old_resources.get(logical_id)
        if before is None:
            diffs.append(ResourceDiff(logical_id, resource.get("Type", ""), "Add"))
            continue
        kind = resource.get("Type", "")
        if before.get("Type") != kind:
            change = PropertyChange("Type", before.get("Type"), kind, ALWAYS, predicted=False)
            diffs.append(ResourceDiff(logical_id, kind, "Modify", (change,)))
            continue
        old = resolve(before, old_parameters, secret, old_template.get("Mappings"))
        new = resolve(resource, new_parameters, secret, new_template.get("Mappings"))
        properties = []
        for path, was, now in _leaf_changes(
            old.get("Properties") or {}, new.get("Properties") or {}, ""
        ):
            raw = _at(resource.get("Properties") or {}, path) or _at(
                before.get("Properties") or {}, path
            )
            properties.append(
                _property_change(path, was, now, requires_recreation(kind, path, region), raw)
            )
        for attribute in ATTRIBUTES:
            was, now = old.get(attribute, _ABSENT), new.get(attribute, _ABSENT)
            if was != now:
                properties.append(
                    _property_change(attribute, was, now, NEVER, resource.get(attribute))
                )
        properties = [
            replace(change, causes=tuple(sorted(set(change.causes) & changed_parameters)))
            for change in properties
        ]
        if properties:
            diffs.append(ResourceDiff(logical_id, kind, "Modify", tuple(properties)))
    for logical_id, resource in old_resources.items():
        if logical_id not in new_resources:
            diffs.append(ResourceDiff(logical_id, resource.get("Type", ""), "Remove"))
    return tuple(diffs)


def _at(mapping, path: str):
    value = mapping
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _property_change(path, was, now, replacement, raw) -> PropertyChange:
    old, new = text(was), text(now)
    return PropertyChange(
        path=path,
        old=old,
        new=new,
        replacement=replacement,
        causes=tuple(sorted(references(raw))) if raw is not None else (),
        diff=_line_diff(old, new),
    )


# Replacement, from the schemas cfn-lint ships.


_CUSTOM = "AWS::CloudFormation::CustomResource"


@functools.cache
def _create_only(resource_type: str, region: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The create-only and conditionally create-only property pointers of a type, or None
    when cfn-lint has no schema for it (a custom resource)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    if resource_type.startswith("Custom::") or resource_type == _CUSTOM:
        return None  # its provider decides, when the update runs
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return None
    return (
        tuple(schema.get("createOnlyProperties") or ()),
        tuple(schema.get("conditionalCreateOnlyProperties") or ()),
    )


def requires_recreation(resource_type: str, path: str, region: str = "us-east-1") -> str:
    """Whether changing the property at ``path`` ("A.B") replaces the resource: Always
    for a create-only property (or one inside it), Conditionally for a conditionally
    create-only one, one that holds a create-only part, a custom resource or a type with
    no schema;
    Never otherwise."""
    pointers = _create_only(resource_type, region)
    if pointers is None:
        return CONDITIONALLY
    always, conditional = pointers
    pointer = "/properties/" + path.replace(".", "/")

    def covers(candidates):
        return any(pointer == p or pointer.startswith(p + "/") for p in candidates)

    if covers(always):
        return ALWAYS
    if covers(conditional) or any(p.startswith(pointer + "/") for p in always):
        return CONDITIONALLY
    return NEVER


# AWS's own word, where it gives one.


def with_details(
    properties: Iterable[PropertyChange], details: Iterable[Mapping]
) -> tuple[PropertyChange, ...]:
    """The template's property changes with AWS's RequiresRecreation where its change
    set's ``Details`` give one (by top-level property name); a property AWS names that
    the templates do not show changing (it depends on another resource's new value) is
    added, its values unknown until the update runs."""
    said: dict[str, tuple[str, str]] = {}
    for detail in details:
        target = detail.get("Target") or {}
        if target.get("Attribute") != "Properties" or not target.get("Name"):
            continue
        name = target["Name"]
        recreation = target.get("RequiresRecreation") or ""
        # Several details may name one property: the strongest word wins.
        if _RANK.get(recreation, -1) >= _RANK.get(said.get(name, ("", ""))[0], -1):
            said[name] = (recreation, detail.get("CausingEntity") or "")
    merged = []
    for change in properties:
        top = change.path.split(".")[0]
        if top in said and said[top][0] and change.path not in ATTRIBUTES:
            change = replace(change, replacement=said[top][0], predicted=False)
        merged.append(change)
    shown = {change.path.split(".")[0] for change in merged}
    for name, (recreation, cause) in said.items():
        if name not in shown:
            merged.append(
                PropertyChange(
                    name,
                    UNKNOWN,
                    UNKNOWN,
                    recreation or CONDITIONALLY,
                    predicted=not recreation,
                    causes=(cause.split(".")[0],) if cause else (),
                )
            )
    return tuple(merged)


_RANK = {NEVER: 0, CONDITIONALLY: 1, ALWAYS: 2}
