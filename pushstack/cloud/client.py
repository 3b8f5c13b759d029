"""``Cloud``: every CloudFormation, S3, EC2 and ACM call pushstack makes.

This module holds the calls themselves, launching, reading stacks, drift, delete and
the account's choices; ``Cloud`` takes the rest from its parts: ``Uploads``
(pushstack.cloud.uploads: the artifacts bucket), ``Watching`` (pushstack.cloud.watching:
events and progress) and ``ChangeSets`` (pushstack.cloud.changesets: updates).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime

from pushstack import render
from pushstack.cloud import account, drift, templates
from pushstack.cloud import events as ev
from pushstack.cloud.changesets import ChangeSets
from pushstack.cloud.errors import CloudError, translate
from pushstack.cloud.ownership import (
    LAUNCH_ID_TAG,
    LAUNCHED_BY,
    LAUNCHED_BY_TAG,
    is_pushstacks,
    require_stack,
)
from pushstack.cloud.ownership import stack_tags as _stack_tags
from pushstack.cloud.target import Target
from pushstack.cloud.uploads import Uploads
from pushstack.cloud.views import (
    MASK,
    AccountChoices,
    Output,
    ResourceView,
    StackSummary,
    StackView,
)
from pushstack.cloud.watching import STACKS_REMEMBERED, Watching, _Watch
from pushstack.options import LEGACY, RS, SPECS, Options

SANDBOX_SEED_SECONDS = 30.0  # how long a seeded sandbox network is trusted before re-checking
_SECRET_PARAMETERS = {
    spec.parameter for spec in SPECS.values() if spec.kind == "secret" and spec.parameter
}
_SANDBOX_NETWORKS: dict[tuple[str, str], tuple[float, object]] = {}
_SANDBOX_LOCK = threading.Lock()


def _token(launch_id: str) -> str:
    """A ClientRequestToken from a launch id: [a-zA-Z0-9-], at most 128 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", launch_id).strip("-")
    return ("pushstack-" + cleaned)[:128]


def _time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class Cloud(Uploads, Watching, ChangeSets):
    """The AWS calls of one target and region.

    Keep one per process and target: it remembers the events it has read, so
    watching a stack reads only the new ones. Safe to share between threads.
    Its parts (``Uploads``, ``Watching``, ``ChangeSets``) keep their state here.
    """

    def __init__(self, target: Target, region: str | None = None, before_call=None):
        self.target = target
        self.region = region or target.region
        # Called as before_call(service, operation) before every AWS call; may raise a
        # CloudError to refuse it (the wizard bounds each client's calls per minute).
        self.before_call = before_call
        self._clients: dict[str, object] = {}
        self._lock = threading.RLock()
        self._watches: OrderedDict[str, _Watch] = OrderedDict()
        self._stack_ids: dict[str, str] = {}
        self._templates: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._artifacts_ready = False

    # -- plumbing ------------------------------------------------------------

    def _client(self, service: str):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.target.client(service, self.region)
            return self._clients[service]

    def _call(self, service: str, operation: str, **kwargs):
        """One AWS call; any failure becomes a ``CloudError``."""
        if self.before_call is not None:
            self.before_call(service, operation)
        method = getattr(self._client(service), operation)
        try:
            return method(**kwargs)
        except Exception as exc:
            name = "".join(part.capitalize() for part in operation.split("_"))
            error = translate(exc, name, self.target.endpoint_url)
            if self.target.is_sandbox and error.message.startswith("AWS sent an answer"):
                error = CloudError(
                    f"The sandbox failed on {name} (moto answered with an error it could not "
                    "describe): part of this request is beyond what it emulates.",
                    "Try another choice, or run the same stack in a real AWS account.",
                )
            raise error from exc

    def _pages(
        self,
        service: str,
        operation: str,
        key: str,
        limit: int = 1000,
        page_param: str = "NextToken",
        **kwargs,
    ):
        """Items of a paginated call, at most ``limit`` pages. ``page_param`` names the
        request's page cursor (NextToken; Marker for Route 53, answered as NextMarker)."""
        reply_key = "NextMarker" if page_param == "Marker" else page_param
        cursor = None
        for _page in range(limit):
            reply = self._call(
                service, operation, **kwargs, **({page_param: cursor} if cursor else {})
            )
            yield from reply.get(key) or ()
            cursor = reply.get(reply_key)
            if not cursor:
                return

    @property
    def account_id(self) -> str:
        return self.target.account_id

    # -- sandbox -------------------------------------------------------------

    def sandbox_network(self, seed: bool = True):
        """The sandbox's network in this region (``SandboxNetwork``), None for AWS. With
        ``seed`` it is made when missing; without, only looked up (None when not made)."""
        if not self.target.is_sandbox:
            return None
        from pushstack import sandbox

        key = (self.target.endpoint_url or "", self.region)
        with _SANDBOX_LOCK:
            seeded = _SANDBOX_NETWORKS.get(key)
            if seeded and time.monotonic() - seeded[0] < SANDBOX_SEED_SECONDS:
                return seeded[1]
            try:
                if seed:
                    network = sandbox.seed(self.target.endpoint_url, self.region)
                else:
                    network = sandbox.find(self.target.endpoint_url, self.region)
            except Exception as exc:
                raise translate(exc, "seeding the sandbox", self.target.endpoint_url) from exc
            if network is not None:
                _SANDBOX_NETWORKS[key] = (time.monotonic(), network)
            return network

    # -- templates -------------------------------------------------------------

    @staticmethod
    def required_capabilities(template: Mapping) -> tuple[str, ...]:
        """Capabilities the template needs: CAPABILITY_IAM for IAM resources,
        CAPABILITY_NAMED_IAM when one of them has a fixed name."""
        return templates.required_capabilities(template)

    def _check_capabilities(self, template: Mapping, acknowledged: Iterable[str]) -> list[str]:
        required = self.required_capabilities(template)
        given = set(acknowledged)
        if "CAPABILITY_NAMED_IAM" in given:
            given.add("CAPABILITY_IAM")  # named IAM resources include the unnamed kind
        missing = [cap for cap in required if cap not in given]
        if missing:
            raise CloudError(
                "The stack creates IAM roles and policies, and that was not acknowledged "
                f"({', '.join(missing)}).",
                "Read what the stack creates, tick the acknowledgement and launch again.",
                "InsufficientCapabilitiesException",
            )
        return list(required)

    def validate(self, template_body: str) -> None:
        """ValidateTemplate; raises ``CloudError`` with AWS's finding."""
        argument = self._template_argument("validate", template_body)
        self._call("cloudformation", "validate_template", **argument)

    def _deployed_template(self, stack_id: str, version: str = "") -> dict:
        key = (stack_id, version)
        with self._lock:
            if key in self._templates:
                return self._templates[key]
        body = self._call("cloudformation", "get_template", StackName=stack_id).get("TemplateBody")
        parsed = templates.parse(body)
        with self._lock:
            self._templates[key] = parsed
            while len(self._templates) > STACKS_REMEMBERED:
                self._templates.popitem(last=False)
        return parsed

    # -- launch ----------------------------------------------------------------

    def launch(
        self,
        options: Options,
        *,
        acknowledged: Iterable[str],
        termination_protection: bool = False,
        launch_id: str,
    ) -> str:
        """Create the stack; returns its id.

        A second call with the same ``launch_id`` (a double click, a resubmitted
        form) returns the first stack's id instead of failing or making a second stack.
        """
        if not launch_id:
            raise ValueError("launch_id is required")
        if options.region != self.region:
            raise CloudError(
                f"The stack is for {options.region}, but this connection is to {self.region}.",
                "Launch it through the Cloud of its own region.",
            )
        template = templates.build(options)
        template_dict = template.to_dict()
        capabilities = self._check_capabilities(template_dict, acknowledged)
        missing = render.missing_parameters(options, template)
        if missing:
            raise CloudError(
                f"Values are missing for: {', '.join(missing)}.",
                "Fill in these fields of the form and launch again.",
                "ValidationError",
            )
        existing = self._same_launch(options.stack_name, launch_id)
        if existing:
            return existing
        if existing is not None:
            raise self._name_taken(options.stack_name)
        self._check_tables_free(options)
        if self.target.is_sandbox:
            self.sandbox_network()
        self._upload_processor_code(options)
        # Pretty, for whoever reads it in the console; uploaded when past the inline limit.
        body = render.to_json(template, indent=2)
        parameters = [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in render.parameter_values(options, template).items()
        ]
        tags = [
            {"Key": LAUNCHED_BY_TAG, "Value": LAUNCHED_BY},
            {"Key": LAUNCH_ID_TAG, "Value": launch_id[:256]},
        ]
        try:
            reply = self._call(
                "cloudformation",
                "create_stack",
                StackName=options.stack_name,
                **self._template_argument(options.stack_name, body),
                Parameters=parameters,
                Capabilities=capabilities,
                Tags=tags,
                ClientRequestToken=_token(launch_id),
                EnableTerminationProtection=bool(termination_protection),
                OnFailure="ROLLBACK",
            )
        except CloudError as error:
            if error.code == "AlreadyExistsException":
                existing = self._same_launch(options.stack_name, launch_id)
                if existing:
                    return existing
                raise self._name_taken(options.stack_name) from error
            raise
        stack_id = reply["StackId"]
        with self._lock:
            self._stack_ids[options.stack_name] = stack_id
        return stack_id

    def taken_tables(self, options: Options) -> tuple[str, ...]:
        """The names of the tables these options would create that already exist (kept
        from an earlier deployment with the same prefix); none when they reuse tables or
        the tables cannot be looked at (not allowed: CloudFormation will tell)."""
        if options.reuse_tables:
            return ()
        taken = []
        for table in ("router", "message"):
            name = options.table_name(table)
            try:
                self._call("dynamodb", "describe_table", TableName=name)
            except CloudError:
                continue
            taken.append(name)
        return tuple(taken)

    def _check_tables_free(self, options: Options) -> None:
        """New tables cannot take names kept from an earlier deployment: say so before
        CloudFormation fails half-way (or the sandbox fails without a readable answer)."""
        taken = self.taken_tables(options)
        if not taken:
            return
        raise CloudError(
            f"DynamoDB tables with the prefix {options.table_prefix} already exist "
            f"({', '.join(taken)}, kept from an earlier deployment).",
            "Reuse them (tick Reuse existing tables and give the same crypto key), "
            "or choose another table prefix.",
            "ResourceInUseException",
        )

    def _name_taken(self, name: str) -> CloudError:
        return CloudError(
            f"A stack named {name} already exists in {self.region}.",
            "Choose another stack name, or open that stack from the stacks list.",
            "AlreadyExistsException",
        )

    def _same_launch(self, name: str, launch_id: str) -> str | None:
        """The id of the live stack ``name`` when it came from this launch; "" when the
        name belongs to another stack; None when no stack has it."""
        try:
            stacks = self._call("cloudformation", "describe_stacks", StackName=name)["Stacks"]
        except CloudError as error:
            if error.code == "ValidationError":
                return None
            raise
        for stack in stacks:
            if _stack_tags(stack).get(LAUNCH_ID_TAG) == launch_id[:256]:
                return stack["StackId"]
        return "" if stacks else None

    # -- reading stacks ----------------------------------------------------------

    def _describe(self, name: str) -> dict:
        """DescribeStacks of a stack by name, or by the id this process knows (deleted stacks)."""
        try:
            stack = self._call("cloudformation", "describe_stacks", StackName=name)["Stacks"][0]
        except CloudError as error:
            if error.code != "ValidationError":
                raise
            stack_id = self._stack_ids.get(name) or self._deleted_stack_id(name)
            if not stack_id:
                raise CloudError(
                    f"There is no stack named {name} in {self.region}.",
                    "Check the name and the region; the stacks list shows what pushstack launched.",
                    error.code,
                ) from error
            stack = self._call("cloudformation", "describe_stacks", StackName=stack_id)["Stacks"][0]
        # Every read and change of a stack starts here: none of a stack pushstack did not make.
        require_stack(stack, self.region)
        with self._lock:
            self._stack_ids[stack["StackName"]] = stack["StackId"]
        return stack

    def owned(self, name: str) -> str:
        """The id of pushstack's stack ``name``; a ``CloudError`` for an unknown or foreign one."""
        return self._describe(name)["StackId"]

    def _deleted_stack_id(self, name: str) -> str | None:
        """The newest deleted stack of this name (ListStacks keeps them for 90 days)."""
        if name.startswith("arn:"):
            return name
        newest = None
        for summary in self._pages(
            "cloudformation",
            "list_stacks",
            "StackSummaries",
            limit=10,
            StackStatusFilter=["DELETE_COMPLETE"],
        ):
            if summary.get("StackName") != name:
                continue
            if newest is None or _time(summary.get("CreationTime")) > _time(
                newest.get("CreationTime")
            ):
                newest = summary
        return newest["StackId"] if newest else None

    def _parameters(self, stack: Mapping) -> dict[str, str]:
        return {
            item["ParameterKey"]: str(item.get("ParameterValue", ""))
            for item in stack.get("Parameters") or ()
        }

    def _template_of(self, stack: Mapping) -> dict:
        """The stack's template; empty when it cannot be read (e.g. long deleted), since the
        page still has its status, parameters and outputs to show."""
        try:
            return self._deployed_template(stack["StackId"], self._version(stack))
        except CloudError:
            if not stack["StackStatus"].startswith("DELETE"):
                raise
            return {}

    def _version(self, stack: Mapping) -> str:
        """What changes when the stack's template may have changed."""
        return f"{stack.get('LastUpdatedTime') or stack.get('CreationTime')}/{stack['StackStatus']}"

    def stack_outputs(self, name: str) -> dict[str, str]:
        """The stack's outputs by key, from one DescribeStacks (what ``pushstack verify`` reads)."""
        stack = self._describe(name)
        return {
            item["OutputKey"]: str(item.get("OutputValue", "")) for item in stack.get("Outputs", [])
        }

    def stack(self, name: str) -> StackView:
        """Status, parameters (secrets masked), outputs and tags of a stack."""
        stack = self._describe(name)
        template = self._template_of(stack)
        secret = templates.secret_parameters(template) | _SECRET_PARAMETERS
        parameters = self._parameters(stack)
        lists = templates.list_parameters(template)
        masked = {
            key: MASK if key in secret else ",".join(_list_value(value)) if key in lists else value
            for key, value in parameters.items()
        }
        outputs = tuple(
            Output(
                item["OutputKey"], str(item.get("OutputValue", "")), item.get("Description") or ""
            )
            for item in stack.get("Outputs") or ()
        )
        returned = {output.key for output in outputs}
        missing = ()
        if ev.is_finished(stack["StackStatus"]) and not stack["StackStatus"].startswith("DELETE"):
            missing = tuple(
                key for key in templates.outputs(template, parameters) if key not in returned
            )
        return StackView(
            name=stack["StackName"],
            stack_id=stack["StackId"],
            status=stack["StackStatus"],
            reason=stack.get("StackStatusReason") or "",
            created=_time(stack.get("CreationTime")),
            updated=_time(stack.get("LastUpdatedTime")),
            parameters=masked,
            outputs=outputs,
            tags=_stack_tags(stack),
            termination_protection=bool(stack.get("EnableTerminationProtection")),
            description=stack.get("Description") or "",
            missing_outputs=missing,
        )

    def resources(self, name: str) -> list[ResourceView]:
        """The stack's resources (ListStackResources), in template order.

        In the sandbox, resources of the template it skipped come back as
        ``emulated=False`` rows.
        """
        return self._resource_rows(self._describe(name))

    def _resource_rows(self, stack: Mapping) -> list[ResourceView]:
        template = self._template_of(stack)
        expected = templates.resources(template, self._parameters(stack))
        kept = templates.retained(template)  # what a delete keeps: the template's own word
        rows = {}
        try:
            items = list(
                self._pages(
                    "cloudformation",
                    "list_stack_resources",
                    "StackResourceSummaries",
                    StackName=stack["StackId"],
                )
            )
        except CloudError as error:
            if not self.target.is_sandbox:
                raise
            # The sandbox fails to list a stack it abandoned half-way (a wrong reference
            # in a create): show the template's resources, so that a delete says what it
            # keeps and the stack can still be deleted.
            return [
                ResourceView(
                    logical_id=logical_id,
                    resource_type=kind,
                    physical_id="",
                    status="",
                    reason=f"The sandbox could not list it ({error.message})",
                    retained=logical_id in kept,
                )
                for logical_id, kind in expected.items()
            ]
        for item in items:
            logical_id = item.get("LogicalResourceId") or ""
            if not logical_id:
                continue  # the sandbox's blank row for a resource it did not create
            rows[logical_id] = ResourceView(
                logical_id=logical_id,
                resource_type=item.get("ResourceType") or expected.get(logical_id, ""),
                physical_id=item.get("PhysicalResourceId") or "",
                status=item.get("ResourceStatus") or "",
                reason=item.get("ResourceStatusReason") or "",
                updated=_time(item.get("LastUpdatedTimestamp")),
                retained=logical_id in kept,
            )
        status = stack["StackStatus"]
        if self.target.is_sandbox and status == "DELETE_COMPLETE":
            # The sandbox lists a deleted stack's resources with the statuses of their
            # creation; AWS says what the delete did to each: kept or deleted.
            rows = {
                logical_id: dataclasses.replace(
                    row, status="DELETE_SKIPPED" if logical_id in kept else "DELETE_COMPLETE"
                )
                for logical_id, row in rows.items()
            }
        if self.target.is_sandbox and ev.is_finished(status) and not status.startswith("DELETE"):
            for logical_id, kind in expected.items():
                if logical_id not in rows:
                    rows[logical_id] = ResourceView(
                        logical_id=logical_id,
                        resource_type=kind,
                        physical_id="",
                        status="",
                        reason="Not emulated in the sandbox",
                        emulated=False,
                        retained=logical_id in kept,
                    )
        order = {logical_id: index for index, logical_id in enumerate(expected)}
        return sorted(
            rows.values(), key=lambda row: (order.get(row.logical_id, len(order)), row.logical_id)
        )

    # -- the stacks list and the update form -------------------------------------

    def list_stacks(self) -> list[StackSummary]:
        """Live stacks launched by pushstack (or made with the command it prints), newest first."""
        summaries = [
            StackSummary(
                name=stack["StackName"],
                stack_id=stack["StackId"],
                status=stack["StackStatus"],
                created=_time(stack.get("CreationTime")),
                updated=_time(stack.get("LastUpdatedTime")),
                reason=stack.get("StackStatusReason") or "",
            )
            for stack in self._pages("cloudformation", "describe_stacks", "Stacks")
            if is_pushstacks(_stack_tags(stack)) and stack.get("StackStatus") != "DELETE_COMPLETE"
        ]
        epoch = datetime.min.replace(tzinfo=None)
        return sorted(
            summaries,
            key=lambda s: s.created.replace(tzinfo=None) if s.created else epoch,
            reverse=True,
        )

    def stack_options(self, name: str) -> dict[str, object]:
        """The stack's non-secret option values, for the update form.

        Values come from its parameters; the shape (log processing, reused
        tables) from its template. The crypto key is never returned.
        """
        stack = self._describe(name)
        template = self._template_of(stack)
        resources = templates.resources(template)
        # By logical id, not by type: an autopush-rs stack has a Lambda function too
        # (its image build's starter), and the processor's Redis may be a replication
        # group like autopush-rs's store.
        values: dict[str, object] = {
            "stack_name": stack["StackName"],
            "region": self.region,
            "log_processing": (
                "processor"
                if "ProcessorFunction" in resources
                else "firehose"
                if "LogDeliveryStream" in resources
                else "none"
            ),
            "reuse_tables": "AWS::DynamoDB::Table" not in set(resources.values()),
            # A stack from before the engine choice (no store) runs autopush 1.57.0.
            "engine": RS if "PushStore" in resources else LEGACY,
        }
        if values["engine"] == RS:
            values.pop("reuse_tables")
        by_parameter = {spec.parameter: spec for spec in SPECS.values() if spec.parameter}
        for key, value in self._parameters(stack).items():
            spec = by_parameter.get(key)
            if spec is None or spec.kind == "secret" or value == MASK:
                continue
            if spec.kind == "list":
                values[spec.name] = _list_value(value)
            elif spec.kind == "int":
                try:
                    values[spec.name] = int(value)
                except ValueError:
                    values[spec.name] = value
            else:
                values[spec.name] = value
        return values

    # -- drift (pushstack.cloud.drift) ---------------------------------------------

    @property
    def drift_detectable(self) -> bool:
        """False in the sandbox: moto does not emulate drift detection (``drift.SANDBOX_NOTE``)."""
        return not self.target.is_sandbox

    def detect_drift(self, name: str) -> str:
        return drift.start(self, self._describe(name)["StackName"])

    def drift(self, name: str, detection_id: str) -> drift.DriftView:
        return drift.status(self, name, detection_id)

    def last_drift(self, name: str) -> drift.DriftView | None:
        return drift.last_known(self, name) if self.drift_detectable else None

    # -- delete and recovery -------------------------------------------------------

    def delete(self, name: str, retain: Iterable[str] = ()) -> None:
        """Delete the stack. ``retain`` (logical ids) only after a failed delete."""
        stack = self._describe(name)
        if stack.get("EnableTerminationProtection"):
            # AWS refuses too; the sandbox stores the setting but would delete anyway.
            raise self._protected(stack["StackName"])
        retain = list(retain)
        try:
            self._call(
                "cloudformation",
                "delete_stack",
                StackName=stack["StackId"],
                **({"RetainResources": retain} if retain else {}),
            )
        except CloudError as error:
            if "terminationprotection" in error.message.lower().replace(" ", ""):
                raise self._protected(stack["StackName"], error.code) from error
            raise

    def _protected(self, name: str, code: str | None = "ValidationError") -> CloudError:
        return CloudError(
            f"The stack {name} has termination protection on, so it cannot be deleted.",
            "Turn termination protection off (AWS console: Stack actions, or `aws "
            "cloudformation update-termination-protection --no-enable-termination-protection "
            f"--stack-name {shlex.quote(name)}`), then delete.",
            code,
        )

    def continue_update_rollback(self, name: str, skip: Iterable[str] = ()) -> None:
        """Resume a rollback stuck in UPDATE_ROLLBACK_FAILED, skipping the given resources."""
        stack = self._describe(name)
        skip = list(skip)
        self._call(
            "cloudformation",
            "continue_update_rollback",
            StackName=stack["StackId"],
            **({"ResourcesToSkip": skip} if skip else {}),
        )

    # -- the account's choices -----------------------------------------------------

    def account_choices(self) -> AccountChoices:
        """VPCs, subnets (public or private), key pairs and issued certificates of the account
        (in the sandbox, whatever is there: reading them seeds nothing)."""
        return account.choices(self._call, self._pages)


def _list_value(value: str) -> tuple[str, ...]:
    """Items of a list parameter's value: "a,b" from AWS; the sandbox answers "['a', 'b']"."""
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    items = (item.strip().strip("'\"") for item in value.split(","))
    return tuple(item for item in items if item)


__all__ = ["LAUNCHED_BY_TAG", "LAUNCH_ID_TAG", "Cloud", "CloudError"]
