"""A change set as a reviewer reads it: AWS's list of resource changes, completed by a
diff of the deployed template against the change set's (``pushstack.changes``).

AWS's DescribeChangeSet leaves out which parameters change and, for a resource
that reads a changed parameter, what changes in it; the sandbox (moto 5.2.5)
lists no change at all for new values, and gives no Replacement nor Details.
Both gaps are filled from the two templates: GetTemplate of the stack, and
GetTemplate of the change set (which the sandbox answers through
``pushstack.sandbox.patch_moto``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from pushstack import changes as diff
from pushstack.cloud import rollout, templates
from pushstack.cloud.changes import danger
from pushstack.cloud.errors import CloudError
from pushstack.cloud.views import Change, ChangeSetView
from pushstack.options import CRYPTO_KEY_REVISION, SPECS

SECRET_PARAMETERS = {
    spec.parameter for spec in SPECS.values() if spec.kind == "secret" and spec.parameter
}


def describe(call: Callable, reply: Mapping, region: str, kept: Mapping) -> ChangeSetView:
    """The change set (``reply``: DescribeChangeSet's first page, of a change set already
    known to be pushstack's) with its parameter changes and its resource changes, the
    properties each changes, whether each replaces its resource, and data at risk flagged
    from the deployed template's deletion policies (``kept``: ``changes.kept_policies``)."""
    change_set_id = reply.get("ChangeSetId", "")
    items = list(reply.get("Changes") or ())
    token = reply.get("NextToken")
    while token:
        more = call(
            "cloudformation",
            "describe_change_set",
            ChangeSetName=change_set_id,
            NextToken=token,
        )
        items += more.get("Changes") or ()
        token = more.get("NextToken")
    aws_changes = [item.get("ResourceChange") or {} for item in items]
    view = ChangeSetView(
        change_set_id=reply.get("ChangeSetId") or change_set_id,
        stack_name=reply.get("StackName", ""),
        status=reply.get("Status") or "",
        execution_status=reply.get("ExecutionStatus") or "",
        reason=reply.get("StatusReason") or "",
        changes=tuple(_from_aws(change, kept) for change in aws_changes),
        stack_id=reply.get("StackId") or "",
    )
    if view.pending or not view.stack_id or view.execution_status == "EXECUTE_COMPLETE":
        return view
    try:
        return _compared(call, view, reply, aws_changes, region, kept)
    except CloudError as error:
        return replace(view, problem=f"{error.message} {error.advice}".strip())


def _compared(call, view: ChangeSetView, reply, aws_changes, region, kept) -> ChangeSetView:
    stacks = call("cloudformation", "describe_stacks", StackName=view.stack_id).get("Stacks")
    stack = (stacks or [{}])[0]
    old_template = templates.parse(
        call("cloudformation", "get_template", StackName=view.stack_id).get("TemplateBody")
    )
    new_template = templates.parse(
        call(
            "cloudformation",
            "get_template",
            StackName=view.stack_id,
            ChangeSetName=view.change_set_id,
        ).get("TemplateBody")
    )
    secret = (
        templates.secret_parameters(old_template)
        | templates.secret_parameters(new_template)
        | SECRET_PARAMETERS
    )
    # The deployed side with the AMI the stack resolved (AWS's ResolvedValue), as the sandbox
    # reports it: pinning that AMI changes no node; a new one shows in the rollout.
    old_values = diff.parameter_values(old_template, _given(stack.get("Parameters"), True))
    new_values = diff.parameter_values(new_template, _given(reply.get("Parameters")))
    diff.align_resolved(old_values, new_values, new_template)
    parameters = diff.parameter_changes(
        old_values, new_values, secret, key_revision=CRYPTO_KEY_REVISION.parameter
    )
    # Secret values take no part in the comparison: a kept key is "****" on one side and
    # the key itself on the other in the sandbox.
    for name in secret:
        old_values.pop(name, None)
        new_values.pop(name, None)
    found = {
        resource.logical_id: resource
        for resource in diff.template_diff(
            old_template, new_template, old_values, new_values, secret, region
        )
    }
    merged = []
    for change in aws_changes:
        logical_id = change.get("LogicalResourceId", "")
        merged.append(_merge(change, found.pop(logical_id, None), kept))
    # What AWS left out (the sandbox lists nothing for new values only).
    merged += [_merge({}, resource, kept) for resource in found.values()]
    nodes = rollout.of_change_set(call, merged, stack, reply, new_template, region)
    return replace(view, changes=tuple(merged), parameters=parameters, rollout=nodes)


def _given(parameters, resolved: bool = False) -> dict[str, str]:
    return {
        item["ParameterKey"]: str(
            (resolved and item.get("ResolvedValue")) or item.get("ParameterValue", "")
        )
        for item in parameters or ()
        if "ParameterKey" in item
    }


def _from_aws(change: Mapping, kept: Mapping) -> Change:
    action = change.get("Action", "")
    kind = change.get("ResourceType", "")
    logical_id = change.get("LogicalResourceId", "")
    replacement = str(change.get("Replacement") or "")
    return Change(
        action=action,
        logical_id=logical_id,
        resource_type=kind,
        replacement=replacement,
        danger=danger(action, kind, logical_id, replacement, kept.get(logical_id)),
    )


def _merge(change: Mapping, resource: diff.ResourceDiff | None, kept: Mapping) -> Change:
    """One resource's change: AWS's action and replacement when it gives them, the
    template diff's properties (with AWS's RequiresRecreation where it says), and the
    replacement predicted from those when AWS gives none."""
    action = change.get("Action") or (resource.action if resource else "")
    kind = change.get("ResourceType") or (resource.resource_type if resource else "")
    logical_id = change.get("LogicalResourceId") or (resource.logical_id if resource else "")
    properties = diff.with_details(
        resource.properties if resource else (), change.get("Details") or ()
    )
    replacement = str(change.get("Replacement") or "")
    predicted = False
    if not replacement and action == "Modify" and properties:
        replacement, predicted = diff.resource_replacement(properties), True
    return Change(
        action=action,
        logical_id=logical_id,
        resource_type=kind,
        replacement=replacement,
        danger=danger(action, kind, logical_id, replacement, kept.get(logical_id)),
        predicted=predicted,
        properties=properties,
    )
