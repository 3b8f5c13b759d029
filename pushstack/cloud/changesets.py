"""Updates through change sets: ``ChangeSets``, the part of ``Cloud`` that makes, reads,
runs and discards them (pushstack's own only), and ``describe``, a change set as a
reviewer reads it: AWS's list of resource changes, completed by a diff of the deployed
template against the change set's (``pushstack.changes``).

AWS's DescribeChangeSet leaves out which parameters change and, for a resource
that reads a changed parameter, what changes in it; the sandbox (moto 5.2.5)
lists no change at all for new values, and gives no Replacement nor Details.
Both gaps are filled from the two templates: GetTemplate of the stack, and
GetTemplate of the change set (which the sandbox answers through
``pushstack.sandbox.patch_moto``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from pushstack import changes as diff
from pushstack import render
from pushstack.cloud import rollout, templates
from pushstack.cloud.changes import danger, kept_policies
from pushstack.cloud.errors import CloudError
from pushstack.cloud.ownership import (
    CHANGE_SET_DESCRIPTION,
    CHANGE_SET_PREFIX,
    require_change_set,
    stack_tags,
)
from pushstack.cloud.views import Change, ChangeSetView
from pushstack.options import CRYPTO_KEY_REVISION, SPECS, Options

SECRET_PARAMETERS = {
    spec.parameter for spec in SPECS.values() if spec.kind == "secret" and spec.parameter
}
_KEY_PARAMETERS = (SPECS["crypto_key"].parameter, CRYPTO_KEY_REVISION.parameter)


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


class ChangeSets:
    """Updating a stack through a change set: made, read, run or discarded, each only
    pushstack's own. A part of ``Cloud`` (pushstack.cloud.client), whose ``_describe``,
    ``_call``, uploads and template cache it uses."""

    def create_change_set(
        self,
        name: str,
        options: Options,
        *,
        keep_crypto_key: bool,
        acknowledged: Iterable[str],
    ) -> str:
        """A change set updating stack ``name`` to these options; returns its id.

        Every non-secret value is given explicitly; with ``keep_crypto_key`` the
        key and its revision keep their previous values, else ``options.crypto_key``
        replaces them.
        """
        stack = self._describe(name)
        # The stack's own name and region, whatever the form said.
        options = replace(options, stack_name=stack["StackName"], region=self.region)
        if not keep_crypto_key and not options.crypto_key:
            raise CloudError(
                "No new crypto key was given.",
                "Keep the current key, or give the new key list (newest first).",
                "ValidationError",
            )
        template = templates.build(options)
        capabilities = self._check_capabilities(template.to_dict(), acknowledged)
        if self.target.is_sandbox:
            self.sandbox_network()
        self._upload_processor_code(options)
        values = render.parameter_values(options, template)
        parameters = []
        for key in template.parameters:
            if keep_crypto_key and key in _KEY_PARAMETERS:
                parameters.append({"ParameterKey": key, "UsePreviousValue": True})
            elif key in values:
                parameters.append({"ParameterKey": key, "ParameterValue": values[key]})
        change_set_name = f"{CHANGE_SET_PREFIX}{int(time.time() * 1000)}"
        reply = self._call(
            "cloudformation",
            "create_change_set",
            StackName=stack["StackName"],  # the sandbox finds an update's stack by name only
            ChangeSetName=change_set_name,
            ChangeSetType="UPDATE",
            **self._template_argument(stack["StackName"], render.to_json(template, indent=2)),
            Parameters=parameters,
            Capabilities=capabilities,
            Tags=[{"Key": k, "Value": v} for k, v in stack_tags(stack).items()],
            Description=CHANGE_SET_DESCRIPTION,
        )
        return reply["Id"]

    def _own_change_set(self, change_set_id: str, stack_name: str) -> tuple[dict, dict]:
        """DescribeChangeSet's answer and the stack's, once both are known to be pushstack's
        and the change set belongs to ``stack_name`` (the stack the address names)."""
        stack = self._describe(stack_name)
        reply = self._call("cloudformation", "describe_change_set", ChangeSetName=change_set_id)
        require_change_set(reply, stack)
        return reply, stack

    def change_set(self, change_set_id: str, stack_name: str) -> ChangeSetView:
        """The change set pushstack made for its stack ``stack_name``: its status, the
        parameters and resource properties it changes, whether each change replaces its
        resource, data at risk flagged from the deployed template's deletion policies."""
        reply, stack = self._own_change_set(change_set_id, stack_name)
        kept = kept_policies(self._template_of(stack))
        return describe(self._call, reply, self.region, kept)

    def delete_change_set(self, change_set_id: str, stack_name: str) -> None:
        """Discard pushstack's change set of ``stack_name`` (the stack is left as it is)."""
        reply, _stack = self._own_change_set(change_set_id, stack_name)
        self._call("cloudformation", "delete_change_set", ChangeSetName=reply["ChangeSetId"])

    def execute_change_set(self, change_set_id: str, stack_name: str) -> None:
        """Run a change set pushstack made for its stack ``stack_name``; refuses any other."""
        reply, _stack = self._own_change_set(change_set_id, stack_name)
        self._call("cloudformation", "execute_change_set", ChangeSetName=reply["ChangeSetId"])
        # The sandbox keeps LastUpdatedTime across updates: forget the templates read before.
        with self._lock:
            self._templates.clear()

    def change_set_templates(
        self, change_set_id: str, stack_name: str
    ) -> tuple[dict, dict, dict, dict]:
        """The stack's template and parameter values, then the change set's (secrets masked),
        of pushstack's change set of ``stack_name``."""
        reply, stack = self._own_change_set(change_set_id, stack_name)
        after = self._call(
            "cloudformation",
            "get_template",
            ChangeSetName=change_set_id,
            StackName=reply["StackId"],
        )
        current = self._parameters(stack)
        new_values = {**current, **self._parameters(reply)}
        return self._template_of(stack), current, templates.parse(after["TemplateBody"]), new_values
