"""Watching a stack's operation: its events, each read once, and its progress.

``Watching`` is a part of ``Cloud`` (pushstack.cloud.client), which keeps its
state: ``_watches`` (a ``_Watch`` per stack, under ``_lock``) and the known stack
ids; it uses the Cloud's ``_pages``, ``_describe`` and deployed templates.
``pushstack.cloud.events`` says what the events mean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime

from pushstack.cloud import events as ev
from pushstack.cloud import templates
from pushstack.cloud.errors import CloudError
from pushstack.cloud.views import Event, Failure, Progress

EVENT_PAGES = 20  # pages of DescribeStackEvents read at most to find an operation's start
STACKS_REMEMBERED = 256  # stacks a Cloud keeps the events (and templates) of
SANDBOX_STUCK_SECONDS = 30.0  # an operation the sandbox left in progress longer is abandoned


@dataclasses.dataclass
class _Watch:
    """What this process has read of one stack's events."""

    events: list[Event] = dataclasses.field(default_factory=list)
    template_for: str = ""  # event id of the operation start the template was read for
    total: int = 0
    running: dict | None = None  # DescribeStacks' answer while an operation runs


class Watching:
    """``Cloud.progress`` and the event reading behind it."""

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

    def progress(self, name: str, previous: Progress | None = None) -> Progress:
        """Status, done of total, the current operation's events, outputs and failure.

        While an operation runs, a poll reads only the new events: the stack is described
        again when its own events say its status moved (at the end, for the outputs).
        ``previous``, an earlier answer for this stack (another process's), counts as read:
        a process that did not watch the operation from its start then also reads only
        what is new since.
        """
        if (
            previous is not None
            and not previous.finished
            and name in (previous.name, previous.stack_id)
        ):
            self._take_over(previous)
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

    def _take_over(self, previous: Progress) -> None:
        """What ``previous`` read of a running operation, as if this process had read it,
        unless this process knows the operation better (more of its events)."""
        events = list(previous.events)
        with self._lock:
            watch = self._watches.setdefault(previous.stack_id, _Watch())
            if watch.running is not None and len(watch.events) >= len(events):
                return
            watch.events = events
            if events and previous.total:
                watch.template_for, watch.total = events[0].event_id, previous.total
            watch.running = {
                "StackName": previous.name,
                "StackId": previous.stack_id,
                "StackStatus": previous.status,
                "StackStatusReason": previous.reason,
                "Outputs": [
                    {"OutputKey": k, "OutputValue": v} for k, v in previous.outputs.items()
                ],
            }
            self._stack_ids[previous.name] = previous.stack_id

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
