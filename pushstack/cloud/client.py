"""``Cloud``: every CloudFormation, S3, EC2 and ACM call pushstack makes."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pushstack import artifacts, render
from pushstack.cloud import account, changesets, drift, templates
from pushstack.cloud import events as ev
from pushstack.cloud.changes import kept_policies as _kept_policies
from pushstack.cloud.errors import CloudError, translate
from pushstack.cloud.ownership import (
    CHANGE_SET_DESCRIPTION,
    CHANGE_SET_PREFIX,
    LAUNCH_ID_TAG,
    LAUNCHED_BY,
    LAUNCHED_BY_TAG,
    is_pushstacks,
    require_change_set,
    require_stack,
)
from pushstack.cloud.ownership import stack_tags as _stack_tags
from pushstack.cloud.target import Target
from pushstack.cloud.views import (
    MASK,
    AccountChoices,
    ChangeSetView,
    Event,
    Failure,
    Output,
    Progress,
    ResourceView,
    StackSummary,
    StackView,
)
from pushstack.options import CRYPTO_KEY_REVISION, LEGACY, RS, SPECS, Options

EVENT_PAGES = 20  # pages of DescribeStackEvents read at most to find an operation's start
STACKS_REMEMBERED = 256
SANDBOX_SEED_SECONDS = 30.0  # how long a seeded sandbox network is trusted before re-checking
SANDBOX_STUCK_SECONDS = 30.0  # an operation the sandbox left in progress longer is abandoned
_SECRET_PARAMETERS = {
    spec.parameter for spec in SPECS.values() if spec.kind == "secret" and spec.parameter
}
_KEY_PARAMETERS = (SPECS["crypto_key"].parameter, CRYPTO_KEY_REVISION.parameter)
_SANDBOX_NETWORKS: dict[tuple[str, str], tuple[float, object]] = {}
_SANDBOX_LOCK = threading.Lock()


def build_template(options: Options):
    """The stack's template (imported on use: reading stacks needs no troposphere model)."""
    from pushstack.template import build_template as build

    return build(options)


def _token(launch_id: str) -> str:
    """A ClientRequestToken from a launch id: [a-zA-Z0-9-], at most 128 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", launch_id).strip("-")
    return ("pushstack-" + cleaned)[:128]


def _time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclasses.dataclass
class _Watch:
    """What this process has read of one stack's events."""

    events: list[Event] = dataclasses.field(default_factory=list)
    template_for: str = ""  # event id of the operation start the template was read for
    total: int = 0
    running: dict | None = None  # DescribeStacks' answer while an operation runs


class Cloud:
    """The AWS calls of one target and region.

    Keep one per process and target: it remembers the events it has read, so
    watching a stack reads only the new ones. Safe to share between threads.
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

    @property
    def artifacts_bucket(self) -> str:
        return artifacts.bucket_name(self.account_id, self.region)

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

    # -- artifacts -----------------------------------------------------------

    def _ensure_artifacts_bucket(self) -> str:
        """The artifacts bucket, created (encrypted, not public) when missing."""
        bucket = self.artifacts_bucket
        if self._artifacts_ready:
            return bucket
        try:
            self._client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=self.account_id)
        except Exception as exc:
            error = translate(exc, "HeadBucket", self.target.endpoint_url)
            if error.code not in ("404", "NoSuchBucket", "NotFound"):
                if error.code in ("403", "AccessDenied"):
                    raise CloudError(
                        f"The artifacts bucket {bucket} exists but belongs to another account "
                        "or may not be read.",
                        "Allow s3:GetBucketLocation and s3:PutObject on it, or delete it.",
                        error.code,
                    ) from exc
                raise error from exc
            location = (
                {}
                if self.region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            try:
                self._client("s3").create_bucket(Bucket=bucket, **location)
            except Exception as create_exc:
                error = translate(create_exc, "CreateBucket", self.target.endpoint_url)
                if error.code not in ("BucketAlreadyOwnedByYou",):
                    raise error from create_exc
            self._call(
                "s3",
                "put_public_access_block",
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self._call(
                "s3",
                "put_bucket_encryption",
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        self._artifacts_ready = True
        return bucket

    def _upload(self, key: str, body: bytes, content_type: str) -> str:
        """Put one object in the artifacts bucket; returns its URL for CloudFormation."""
        for attempt in (1, 2):
            bucket = self._ensure_artifacts_bucket()
            try:
                self._call(
                    "s3",
                    "put_object",
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    ServerSideEncryption="AES256",
                )
            except CloudError as error:
                if error.code != "NoSuchBucket" or attempt == 2:
                    raise
                self._artifacts_ready = False  # deleted since this process checked: again
            else:
                break
        return artifacts.object_url(bucket, self.region, key)

    def _template_argument(self, name: str, body: str) -> dict[str, str]:
        """TemplateBody when it fits inline, else TemplateURL of an uploaded copy."""
        data = body.encode()
        if len(data) <= render.INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": body}
        digest = hashlib.sha256(data).hexdigest()[:16]
        key = f"{artifacts.TEMPLATE_KEY_PREFIX}{name}/{digest}.json"
        return {"TemplateURL": self._upload(key, data, "application/json")}

    def _upload_processor_code(self, options: Options) -> None:
        """Upload the processor's zip, built by pushstack, when the stack takes its code
        from the artifacts bucket (the code bucket left empty, or naming that bucket)."""
        if not options.processor:
            return
        bucket = getattr(options, "processor_code_bucket", None)
        if bucket and bucket != self.artifacts_bucket:
            return  # the user's own bucket and zip
        from pushstack import processor_zip

        try:
            data, key = processor_zip.zip_bytes(), processor_zip.zip_key()
        except processor_zip.ProcessorZipError as exc:
            raise CloudError(
                f"The processor's code could not be built: {exc}.",
                "Give the bucket and key of a processor zip you uploaded yourself.",
            ) from exc
        wanted = getattr(options, "processor_code_key", "") or key
        if wanted != key:
            # Another key in the artifacts bucket (typed, or from an older share link):
            # the stack would look for a zip that may not be there.
            try:
                self._call("s3", "head_object", Bucket=self._ensure_artifacts_bucket(), Key=wanted)
            except CloudError as error:
                raise CloudError(
                    f"The processor's code key {wanted} is not in the artifacts bucket "
                    f"{self.artifacts_bucket}.",
                    f"Set the processor code key to {key} (pushstack's own zip, uploaded at "
                    "launch), or upload your zip to that key first.",
                    error.code,
                ) from error
            return
        self._upload(key, data, "application/zip")

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
        template = build_template(options)
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

    # -- progress ----------------------------------------------------------------

    def _read_events(self, stack_id: str) -> list[Event]:
        """The current operation's events, oldest first, reading only pages not seen before."""
        with self._lock:
            watch = self._watches.get(stack_id)
            known = list(watch.events) if watch else []
        newest_known = known[-1].event_id if known else None
        fresh: list[Event] = []
        for page, item in enumerate(
            self._pages(
                "cloudformation",
                "describe_stack_events",
                "StackEvents",
                limit=EVENT_PAGES,
                StackName=stack_id,
            )
        ):
            event = ev.event_from_api(item)
            if event.event_id == newest_known:
                break
            fresh.append(event)
            if not known and ev.is_operation_start(event, newest=page == 0):
                break
        combined = ev.current_operation(known + fresh[::-1])
        with self._lock:
            watch = self._watches.setdefault(stack_id, _Watch())
            watch.events = combined
            self._watches.move_to_end(stack_id)
            while len(self._watches) > STACKS_REMEMBERED:
                self._watches.popitem(last=False)
        return combined

    def _total(self, stack: Mapping, operation: list[Event]) -> int:
        """Resources of the stack's template (Conditions resolved), read once per operation."""
        stack_id = stack["StackId"]
        start = operation[0].event_id if operation else ""
        with self._lock:
            watch = self._watches.setdefault(stack_id, _Watch())
            if watch.template_for == start and watch.total:
                return watch.total
        try:
            template = self._deployed_template(stack_id, self._version(stack))
        except CloudError:
            return 0
        total = len(templates.resources(template, self._parameters(stack)))
        with self._lock:
            watch.template_for, watch.total = start, total
        return total

    def progress(self, name: str) -> Progress:
        """Status, done of total, the current operation's events, outputs and failure.

        While an operation runs, a poll reads only the new events: the stack is described
        again when its own events say its status moved (at the end, for the outputs).
        """
        with self._lock:
            stack_id = name if name.startswith("arn:") else self._stack_ids.get(name, "")
            watch = self._watches.get(stack_id)
            running = watch.running if watch else None
        if running is None:
            stack = self._describe(name)
            operation = self._read_events(stack["StackId"])
        else:
            operation = self._read_events(running["StackId"])
            moved = ev.stack_status(operation) not in (None, running["StackStatus"])
            stack = self._describe(name) if moved else running
            if stack["StackId"] != running["StackId"]:  # the name is another stack's now
                operation = self._read_events(stack["StackId"])
        status = stack["StackStatus"]
        with self._lock:
            watch = self._watches.setdefault(stack["StackId"], _Watch())
            watch.running = None if ev.is_finished(status) else stack
        total = self._total(stack, operation)
        finished = ev.is_finished(status)
        done = ev.done_count(operation)
        if finished and status in ev.SUCCESS_STATUSES:
            done = total
        failure = ev.failure(operation)
        if failure is None and status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
            failure = Failure(stack["StackName"], stack.get("StackStatusReason") or status)
        if not finished and self._sandbox_stuck(operation):
            finished = True
            failure = failure or Failure(
                stack["StackName"],
                "The sandbox stopped half-way: it could not process part of the template "
                "(it finishes every operation at once, so this one will not finish). "
                "Delete the stack.",
            )
        not_emulated = ()
        if self.target.is_sandbox and finished and status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            rows = self._resource_rows(stack)
            not_emulated = tuple(row.logical_id for row in rows if not row.emulated)
        return Progress(
            name=stack["StackName"],
            stack_id=stack["StackId"],
            status=status,
            reason=stack.get("StackStatusReason") or "",
            done=min(done, total) if total else done,
            total=max(total, done),
            events=tuple(operation),
            outputs={
                item["OutputKey"]: str(item.get("OutputValue", ""))
                for item in stack.get("Outputs") or ()
            },
            failure=failure,
            finished=finished,
            blocking=ev.blocking_resources(operation) if status == "DELETE_FAILED" else (),
            not_emulated=not_emulated,
        )

    def _sandbox_stuck(self, operation: list[Event]) -> bool:
        """The sandbox completes operations within the call that starts them, or, paced
        (``pushstack.sandbox_pace``), adds an event at least every 20 s: one still in
        progress with no event for longer was abandoned on an error, and will never end."""
        if not self.target.is_sandbox or not operation:
            return False
        newest = operation[-1].timestamp
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        return (datetime.now(UTC) - newest).total_seconds() > SANDBOX_STUCK_SECONDS

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

    # -- change sets -------------------------------------------------------------

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
        options = dataclasses.replace(options, stack_name=stack["StackName"], region=self.region)
        if not keep_crypto_key and not options.crypto_key:
            raise CloudError(
                "No new crypto key was given.",
                "Keep the current key, or give the new key list (newest first).",
                "ValidationError",
            )
        template = build_template(options)
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
            Tags=[{"Key": k, "Value": v} for k, v in _stack_tags(stack).items()],
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
        kept = _kept_policies(self._template_of(stack))
        return changesets.describe(self._call, reply, self.region, kept)

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
