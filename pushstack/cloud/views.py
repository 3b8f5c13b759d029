"""What the cloud module returns: plain dataclasses, no boto3 objects.

The web pages and the JSON API read these; every time is a timezone-aware
``datetime`` (UTC), every secret parameter value is already masked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pushstack.changes import MASK as MASK  # shown in place of a NoEcho parameter's value
from pushstack.changes import ParameterChange, PropertyChange

# The states whose outputs are shown: an operation that finished successfully (a
# rolled-back update leaves the stack working, with its previous outputs). AWS gives a
# stack's outputs only once it completes; the sandbox gives them at once, during the
# create and the delete too: they are hidden there until the stack is complete.
OUTPUTS_SHOWN = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


@dataclass(frozen=True)
class Event:
    """One stack event, as DescribeStackEvents gives it."""

    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""
    physical_id: str = ""

    @property
    def is_stack(self) -> bool:
        """Whether the event is about the stack itself rather than one of its resources."""
        return self.resource_type == "AWS::CloudFormation::Stack"


@dataclass(frozen=True)
class Failure:
    """The earliest real failure of an operation: the resource and AWS's reason."""

    resource: str
    reason: str


@dataclass(frozen=True)
class Progress:
    """Where the stack's current operation (create, update, delete, ...) stands.

    ``events`` are the current operation's only, oldest first. ``total`` counts
    the resources of the stack's template (0 when unknown, e.g. after a delete
    completed); ``done`` those finished in this operation, and equals ``total``
    once the operation completed successfully (resources the sandbox does not
    emulate count as done). ``failure`` is None unless something failed.
    ``finished`` is True when the status is no longer ``*_IN_PROGRESS``.
    """

    name: str
    stack_id: str
    status: str
    reason: str
    done: int
    total: int
    events: tuple[Event, ...]
    outputs: dict[str, str]
    failure: Failure | None
    finished: bool
    # Resources whose deletion failed: a retried delete may retain them.
    blocking: tuple[str, ...] = ()
    # Resources the sandbox accepted but did not create (counted as done).
    not_emulated: tuple[str, ...] = ()

    @property
    def shown_outputs(self) -> dict[str, str]:
        """The outputs, once the operation finished successfully; else none."""
        return dict(self.outputs) if self.status in OUTPUTS_SHOWN else {}

    def as_dict(self) -> dict:
        """The JSON API's shape: name, status, done, total, events, outputs (empty until the
        operation finished successfully: ``OUTPUTS_SHOWN``), failure."""
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "done": self.done,
            "total": self.total,
            "finished": self.finished,
            "events": [
                {
                    "timestamp": event.timestamp.isoformat(),
                    "resource": event.logical_id,
                    "type": event.resource_type,
                    "status": event.status,
                    "reason": event.reason,
                }
                for event in self.events
            ],
            "outputs": self.shown_outputs,
            "failure": asdict(self.failure) if self.failure else None,
            "blocking": list(self.blocking),
            "not_emulated": list(self.not_emulated),
        }


@dataclass(frozen=True)
class Output:
    key: str
    value: str
    description: str = ""


@dataclass(frozen=True)
class StackView:
    """A stack as its page shows it. ``parameters`` has NoEcho values masked (``MASK``)."""

    name: str
    stack_id: str
    status: str
    reason: str
    created: datetime | None
    updated: datetime | None
    parameters: dict[str, str]
    outputs: tuple[Output, ...]
    tags: dict[str, str]
    termination_protection: bool
    description: str = ""
    # Outputs the template declares that the target did not return (the sandbox
    # skips some resources, and their outputs with them).
    missing_outputs: tuple[str, ...] = ()

    @property
    def output_values(self) -> dict[str, str]:
        return {output.key: output.value for output in self.outputs}

    @property
    def shown_outputs(self) -> tuple[Output, ...]:
        """The outputs the page shows: once the operation finished successfully, else none."""
        return self.outputs if self.status in OUTPUTS_SHOWN else ()

    @property
    def shown_output_values(self) -> dict[str, str]:
        return {output.key: output.value for output in self.shown_outputs}

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS")


@dataclass(frozen=True)
class ResourceView:
    """One resource of a stack (ListStackResources).

    ``emulated`` is False for a resource the sandbox accepts but does not
    create (a blank row): show it as "not emulated in the sandbox", not as a failure.
    ``retained`` comes from the deployed template's DeletionPolicy, never from the type.
    """

    logical_id: str
    resource_type: str
    physical_id: str
    status: str
    reason: str = ""
    updated: datetime | None = None
    emulated: bool = True
    retained: bool = False  # the deployed template keeps it on delete (DeletionPolicy Retain)


@dataclass(frozen=True)
class StackSummary:
    """A stack launched by pushstack, for the stacks list."""

    name: str
    stack_id: str
    status: str
    created: datetime | None
    updated: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Change:
    """One resource change of a change set. ``danger`` says in words what data is at risk,
    if any. ``replacement`` is AWS's word when it gives one, else (``predicted``) worked
    out from the properties that change, each in ``properties``."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True | False | Conditional | "" (not a Modify)
    danger: str | None = None
    predicted: bool = False
    properties: tuple[PropertyChange, ...] = ()


@dataclass(frozen=True)
class ChangeSetView:
    change_set_id: str
    stack_name: str
    status: str  # CREATE_PENDING | CREATE_IN_PROGRESS | CREATE_COMPLETE | FAILED | ...
    execution_status: str  # UNAVAILABLE | AVAILABLE | EXECUTE_IN_PROGRESS | ...
    reason: str
    changes: tuple[Change, ...]
    # The parameters that change (old -> new), the crypto key as kept or replaced only.
    parameters: tuple[ParameterChange, ...] = ()
    stack_id: str = ""
    # Why the properties could not be compared (a template that could not be read).
    problem: str = ""
    # The node groups the update replaces and why (pushstack.cloud.rollout.Rollout), once
    # the templates were compared; None before.
    rollout: object | None = None

    @property
    def ready(self) -> bool:
        """Whether the change set can be executed now."""
        return self.status == "CREATE_COMPLETE" and self.execution_status == "AVAILABLE"

    @property
    def pending(self) -> bool:
        """Whether AWS is still computing the change set (poll again)."""
        return self.status in ("CREATE_PENDING", "CREATE_IN_PROGRESS")

    @property
    def no_changes(self) -> bool:
        """AWS found nothing to change (the change set failed for that reason only)."""
        return self.status == "FAILED" and "didn't contain changes" in self.reason

    @property
    def dangers(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.danger)

    @property
    def changed_parameters(self) -> tuple[ParameterChange, ...]:
        return tuple(change for change in self.parameters if change.changed)

    @property
    def discardable(self) -> bool:
        """Whether DeleteChangeSet can remove it (not while it runs or once it ran)."""
        return not self.pending and self.execution_status not in (
            "EXECUTE_IN_PROGRESS",
            "EXECUTE_COMPLETE",
            "EXECUTE_FAILED",
        )


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    cidr: str
    name: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    zone: str
    public: bool
    cidr: str
    name: str = ""
    # Where 0.0.0.0/0 goes: "internet gateway" (public), "NAT gateway", "other", "" (nowhere).
    internet: str = ""
    # Its route table: its own, else the VPC's main one ("" when none is readable).
    route_table: str = ""


@dataclass(frozen=True)
class Certificate:
    arn: str
    domain: str
    status: str = ""


@dataclass(frozen=True)
class HostedZone:
    zone_id: str  # without the /hostedzone/ prefix
    name: str  # without the final dot


@dataclass(frozen=True)
class AccountChoices:
    """What the form offers from the account: VPCs, subnets, key pairs, certificates,
    public hosted zones."""

    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    key_pairs: tuple[str, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    hosted_zones: tuple[HostedZone, ...] = ()  # public ones only
    # Parts that could not be read (e.g. access denied to ACM): the rest is still offered.
    problems: tuple[str, ...] = field(default=())
