"""Stack events in plain terms: the current operation, its failure, its count of done resources.

Pure functions over ``Event`` lists (oldest first), so they are tested on event
sequences as AWS returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pushstack.cloud.views import Event, Failure

# A stack-level event with one of these statuses opens an operation.
START_STATUSES = {
    "CREATE_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "REVIEW_IN_PROGRESS",
}
# After UPDATE_ROLLBACK_FAILED, the next operation is a continued rollback.
STUCK_STATUSES = {"UPDATE_ROLLBACK_FAILED"}
DONE_STATUSES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "DELETE_COMPLETE",
    "DELETE_SKIPPED",
    "IMPORT_COMPLETE",
}
SUCCESS_STATUSES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
# Statuses of a stack that is not doing anything, even though one ends in _IN_PROGRESS.
IDLE_STATUSES = {"REVIEW_IN_PROGRESS"}


def event_from_api(item: Mapping) -> Event:
    """An ``Event`` from one DescribeStackEvents entry."""
    timestamp = item.get("Timestamp")
    if not isinstance(timestamp, datetime):
        timestamp = datetime.fromisoformat(str(timestamp))
    return Event(
        event_id=str(item.get("EventId", "")),
        timestamp=timestamp,
        logical_id=str(item.get("LogicalResourceId", "")),
        resource_type=str(item.get("ResourceType", "")),
        status=str(item.get("ResourceStatus", "")),
        reason=str(item.get("ResourceStatusReason") or ""),
        physical_id=str(item.get("PhysicalResourceId") or ""),
    )


def operation_start(events: Sequence[Event]) -> int:
    """Index (in oldest-first ``events``) of the first event of the latest operation."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if not event.is_stack:
            continue
        if event.status in START_STATUSES:
            return index
        if event.status in STUCK_STATUSES and index < len(events) - 1:
            return index + 1
    return 0


def is_operation_start(event: Event, newest: bool) -> bool:
    """Whether reading newest-first can stop at this event (it opens the latest operation)."""
    return event.is_stack and (
        event.status in START_STATUSES or (event.status in STUCK_STATUSES and not newest)
    )


def current_operation(events: Sequence[Event]) -> list[Event]:
    """The latest operation's events, oldest first."""
    return list(events[operation_start(events) :])


def is_cancellation(event: Event) -> bool:
    """A resource stopped because another one failed: a consequence, never the cause."""
    reason = event.reason.lower()
    return "cancelled" in reason or "canceled" in reason


def failure(events: Iterable[Event]) -> Failure | None:
    """The earliest real failure of an operation (oldest-first events).

    A resource's ``*_FAILED`` event wins over the stack's own summary
    ("The following resource(s) failed to create: ..."); the "Resource creation
    cancelled" failures that follow the first one are skipped.
    """
    stack_failure = None
    for event in events:
        if not event.status.endswith("_FAILED"):
            if (
                event.is_stack
                and stack_failure is None
                and event.status.endswith("ROLLBACK_IN_PROGRESS")
                and event.reason
            ):
                stack_failure = Failure(event.logical_id, event.reason)
            continue
        if event.is_stack:
            if stack_failure is None and event.reason:
                stack_failure = Failure(event.logical_id, event.reason)
            continue
        if is_cancellation(event):
            continue
        return Failure(event.logical_id, event.reason or event.status)
    return stack_failure


def latest_status(events: Iterable[Event]) -> dict[str, str]:
    """Each resource's latest status in these events (the stack itself left out)."""
    statuses: dict[str, str] = {}
    for event in events:
        if not event.is_stack:
            statuses[event.logical_id] = event.status
    return statuses


def stack_status(events: Iterable[Event]) -> str | None:
    """The stack's own newest status in these events (oldest first), if they have one."""
    status = None
    for event in events:
        if event.is_stack:
            status = event.status
    return status


def done_count(events: Iterable[Event]) -> int:
    return sum(status in DONE_STATUSES for status in latest_status(events).values())


def blocking_resources(events: Iterable[Event]) -> tuple[str, ...]:
    """Resources whose deletion failed in this operation (what a retried delete may retain)."""
    return tuple(
        logical_id
        for logical_id, status in latest_status(events).items()
        if status == "DELETE_FAILED"
    )


def is_finished(status: str) -> bool:
    return status in IDLE_STATUSES or not status.endswith("_IN_PROGRESS")
