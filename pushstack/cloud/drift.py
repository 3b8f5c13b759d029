"""Drift: whether a stack's resources were changed outside pushstack (CloudFormation's
DetectStackDrift, DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts).

The functions take the ``Cloud`` whose ``_call``/``_pages`` make the calls (this is
part of the cloud module: the only code that talks to AWS), and return plain views.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pushstack.cloud.errors import CloudError

# moto 5.2.5 answers DetectStackDrift and DescribeStackResourceDrifts with an HTTP 500
# and leaves DriftInformation out of DescribeStacks (checked against the sandbox).
SANDBOX_NOTE = (
    "The sandbox does not emulate drift detection (moto 5.2.5 answers DetectStackDrift "
    "with an internal error and reports no drift information), so pushstack does not ask "
    "it. Its resources can still change outside pushstack: any program on this machine "
    "can call the sandbox, as the clean-up commands on the stack's page do. In an AWS "
    "account this runs CloudFormation's drift detection."
)

DRIFT_FILTERS = ["MODIFIED", "DELETED"]


@dataclass(frozen=True)
class PropertyDrift:
    """One property that differs from the template, in words."""

    path: str  # e.g. /LaunchTemplateData/InstanceType
    expected: str
    actual: str
    difference: str  # ADD, REMOVE or NOT_EQUAL

    @property
    def words(self) -> str:
        name = self.path.strip("/").replace("/", " › ") or "(the resource)"
        if self.difference == "ADD":
            return f"{name} was added outside pushstack: {self.actual}"
        if self.difference == "REMOVE":
            return f"{name} was removed outside pushstack (the template sets {self.expected})"
        return f"{name} is {self.actual}; the template sets {self.expected}"


@dataclass(frozen=True)
class ResourceDrift:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str  # MODIFIED or DELETED
    properties: tuple[PropertyDrift, ...] = ()

    @property
    def words(self) -> str:
        if self.status == "DELETED":
            return "deleted outside pushstack"
        count = len(self.properties)
        return f"changed outside pushstack ({count} propert{'y' if count == 1 else 'ies'})"


@dataclass(frozen=True)
class DriftView:
    """A drift detection (or the stack's last known drift) and what drifted."""

    stack_name: str
    detection_id: str
    detection_status: str  # DETECTION_IN_PROGRESS, DETECTION_COMPLETE, DETECTION_FAILED, ""
    drift_status: str  # DRIFTED, IN_SYNC, UNKNOWN, NOT_CHECKED
    reason: str = ""
    checked_at: datetime | None = None
    drifted_count: int = 0
    resources: tuple[ResourceDrift, ...] = ()

    @property
    def pending(self) -> bool:
        return self.detection_status == "DETECTION_IN_PROGRESS"

    @property
    def drifted(self) -> bool:
        return self.drift_status == "DRIFTED"


def _text(value) -> str:
    """A property value as CloudFormation reports it (JSON text), in one readable line."""
    if value is None:
        return ""
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return parsed if isinstance(parsed, str) else json.dumps(parsed, separators=(", ", ": "))


def start(cloud, name: str) -> str:
    """Start a drift detection of stack ``name``; returns its detection id."""
    reply = cloud._call("cloudformation", "detect_stack_drift", StackName=name)
    return reply["StackDriftDetectionId"]


def resource_drifts(cloud, name: str) -> tuple[ResourceDrift, ...]:
    """The stack's resources found modified or deleted by its last drift detection."""
    drifts = cloud._pages(
        "cloudformation",
        "describe_stack_resource_drifts",
        "StackResourceDrifts",
        limit=20,
        StackName=name,
        StackResourceDriftStatusFilters=DRIFT_FILTERS,
    )
    return tuple(
        ResourceDrift(
            logical_id=item.get("LogicalResourceId", ""),
            resource_type=item.get("ResourceType", ""),
            physical_id=item.get("PhysicalResourceId", ""),
            status=item.get("StackResourceDriftStatus", ""),
            properties=tuple(
                PropertyDrift(
                    path=difference.get("PropertyPath", ""),
                    expected=_text(difference.get("ExpectedValue")),
                    actual=_text(difference.get("ActualValue")),
                    difference=difference.get("DifferenceType", ""),
                )
                for difference in item.get("PropertyDifferences") or ()
            ),
        )
        for item in drifts
        if item.get("StackResourceDriftStatus") in DRIFT_FILTERS
    )


def status(cloud, name: str, detection_id: str) -> DriftView:
    """Where detection ``detection_id`` stands; once complete, what drifted."""
    reply = cloud._call(
        "cloudformation",
        "describe_stack_drift_detection_status",
        StackDriftDetectionId=detection_id,
    )
    detection = reply.get("DetectionStatus", "")
    drift_status = reply.get("StackDriftStatus") or "UNKNOWN"
    resources = ()
    # A failed detection may still have checked some resources (those it could).
    if detection in ("DETECTION_COMPLETE", "DETECTION_FAILED") and drift_status == "DRIFTED":
        resources = resource_drifts(cloud, name)
    return DriftView(
        stack_name=name,
        detection_id=detection_id,
        detection_status=detection,
        drift_status=drift_status,
        reason=reply.get("DetectionStatusReason") or "",
        checked_at=reply.get("Timestamp"),
        drifted_count=int(reply.get("DriftedStackResourceCount") or len(resources)),
        resources=resources,
    )


def last_known(cloud, name: str) -> DriftView | None:
    """The stack's drift as of its last detection (DescribeStacks' DriftInformation), with the
    drifted resources when it had drifted; None when never checked or not reported."""
    stack = cloud._describe(name)
    info = stack.get("DriftInformation") or {}
    drift_status = info.get("StackDriftStatus")
    if not drift_status or drift_status == "NOT_CHECKED":
        return None
    resources = ()
    if drift_status == "DRIFTED":
        try:
            resources = resource_drifts(cloud, stack["StackName"])
        except CloudError:
            resources = ()  # the warning stands without the list
    return DriftView(
        stack_name=stack["StackName"],
        detection_id="",
        detection_status="",
        drift_status=drift_status,
        checked_at=info.get("LastCheckTimestamp"),
        drifted_count=len(resources),
        resources=resources,
    )
