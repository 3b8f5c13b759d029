"""When each resource of a stack starts and ends in the sandbox, so that a launch there
looks like one in AWS: resources in dependency order, each with its own duration.

moto creates, updates and deletes a whole stack within the call that starts it, so the
progress bar never moves. The sandbox (``pushstack.sandbox.patch_moto``) replays each
along a schedule instead: each resource's typical AWS creation time (``graph.
TYPICAL_CREATE_SECONDS``) scaled down so that a full stack takes 20 to 40 s at pace 1,
started once every resource it waits for is complete (independent ones in parallel,
as CloudFormation does); a delete goes in the reverse order, in half the time. No moto
here: pure functions of the template.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from pushstack import graph

PACE_VARIABLE = "PUSHSTACK_SANDBOX_PACE"
DEFAULT_PACE = 1.0
# AWS seconds per sandbox second at pace 1: the stacks' critical paths (7m25s to
# 8m05s, benchmarks/templates.py) become about 30 s.
SPEED_UP = 15.0
# No resource takes longer than this at pace 1 (autopush-rs's Valkey store, 15 minutes in
# AWS, would take a minute), so that every stack shape is up in 20 to 40 s...
LONGEST_SECONDS = 15.0
# ...nor, at any pace, this long: the wizard takes an operation whose last event is more
# than 30 s old for one the sandbox abandoned (pushstack.cloud.watching).
SILENCE_SECONDS = 25.0


@dataclass(frozen=True)
class Step:
    logical_id: str
    resource_type: str
    start: float  # seconds after the operation began
    end: float
    verb: str = "CREATE"  # CREATE | UPDATE | DELETE: its events are <verb>_IN_PROGRESS, ...
    outcome: str = ""  # the last event's status: <verb>_COMPLETE unless said (DELETE_SKIPPED)

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses of its events, in order (a retained removal is only skipped)."""
        if self.outcome == "DELETE_SKIPPED":
            return (self.outcome,)
        return (f"{self.verb}_IN_PROGRESS", self.outcome or f"{self.verb}_COMPLETE")


def pace_from_environment(environ=os.environ) -> float:
    """PUSHSTACK_SANDBOX_PACE: 1 (the default) for a full stack in 20 to 40 s, 0 for no
    pacing (every operation completes at once, as moto does), 0.5 for twice as fast..."""
    raw = environ.get(PACE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_PACE
    try:
        pace = float(raw)
    except ValueError as exc:
        raise ValueError(f"{PACE_VARIABLE} must be a number of 0 or more, not {raw!r}") from exc
    if pace < 0 or pace != pace:  # NaN
        raise ValueError(f"{PACE_VARIABLE} must be a number of 0 or more, not {raw!r}")
    return pace


def duration(resource_type: str, pace: float) -> float:
    typical = graph.TYPICAL_CREATE_SECONDS.get(
        resource_type, graph.TYPICAL_CREATE_SECONDS["default"]
    )
    return min(min(typical / SPEED_UP, LONGEST_SECONDS) * pace, SILENCE_SECONDS)


def schedule(
    template: dict,
    created: Iterable[str],
    pace: float,
    verbs: dict[str, str] | None = None,
) -> list[Step]:
    """The steps of creating the resources ``created`` (those the sandbox made) of
    ``template``, ordered by start; empty at pace 0. A resource starts when the last of
    those it waits for (Ref, GetAtt, Sub, DependsOn) ends. ``verbs`` names another verb
    than CREATE for some (UPDATE, in an update)."""
    if pace <= 0:
        return []
    verbs = verbs or {}
    resources = template.get("Resources") or {}
    created = [name for name in created if name in resources]
    wanted = set(created)
    needs = graph.dependencies(template)
    ends: dict[str, float] = {}
    steps: dict[str, Step] = {}

    def end_of(name: str, seen: frozenset = frozenset()) -> float:
        if name in ends:
            return ends[name]
        if name in seen:  # a cycle (CloudFormation would refuse it): do not wait on it
            return 0.0
        start = max(
            (end_of(dep, seen | {name}) for dep in needs.get(name, ()) if dep in wanted),
            default=0.0,
        )
        kind = resources[name].get("Type", "")
        steps[name] = Step(
            name, kind, start, start + duration(kind, pace), verbs.get(name, "CREATE")
        )
        ends[name] = steps[name].end
        return ends[name]

    for name in created:
        end_of(name)
    return sorted(steps.values(), key=lambda step: (step.start, step.end, step.logical_id))


def update_schedule(
    template: dict,
    changed: dict[str, str],
    removed: Iterable[tuple[str, str, bool]],
    pace: float,
) -> list[Step]:
    """An update's steps: the resources it adds or modifies (``changed``: logical id ->
    CREATE or UPDATE) in dependency order, then, as CloudFormation's clean-up does, those
    it removes ((logical id, type, retained)) all at once: deleted, or skipped if retained."""
    steps = schedule(template, changed, pace, verbs=changed)
    if pace <= 0:
        return steps
    cleanup = max((step.end for step in steps), default=0.0)
    for logical_id, kind, retained in removed:
        steps.append(
            Step(
                logical_id,
                kind,
                cleanup,
                cleanup + duration(kind, pace) / 2,
                "DELETE",
                "DELETE_SKIPPED" if retained else "",
            )
        )
    return sorted(steps, key=lambda step: (step.start, step.end, step.logical_id))


def delete_schedule(
    template: dict,
    present: Iterable[str],
    retained: Iterable[str],
    pace: float,
) -> list[Step]:
    """A delete's steps: each resource of ``present`` once every resource waiting for it
    is deleted (the creation's order reversed), each taking half its creation time; a
    retained one is skipped at its turn."""
    if pace <= 0:
        return []
    resources = template.get("Resources") or {}
    present = [name for name in present if name in resources]
    wanted, kept = set(present), set(retained)
    waiting: dict[str, set[str]] = {name: set() for name in present}
    for name, needs in graph.dependencies(template).items():
        for need in needs:
            if name in wanted and need in wanted:
                waiting[need].add(name)
    ends: dict[str, float] = {}
    steps: dict[str, Step] = {}

    def end_of(name: str, seen: frozenset = frozenset()) -> float:
        if name in ends:
            return ends[name]
        if name in seen:
            return 0.0
        start = max((end_of(other, seen | {name}) for other in waiting[name]), default=0.0)
        kind = resources[name].get("Type", "")
        length = 0.0 if name in kept else duration(kind, pace) / 2
        outcome = "DELETE_SKIPPED" if name in kept else ""
        steps[name] = Step(name, kind, start, start + length, "DELETE", outcome)
        ends[name] = steps[name].end
        return ends[name]

    for name in present:
        end_of(name)
    return sorted(steps.values(), key=lambda step: (step.start, step.end, step.logical_id))


def timeline(steps: Iterable[Step]) -> list[tuple[float, str, Step]]:
    """Every event of a schedule in time order: (when, status, step); a resource's
    in-progress event at its start, its last at its end. At the same moment ends come
    first: a resource starts at the end of the one it waits for, and must say so after it."""
    events = []
    for step in steps:
        statuses = step.statuses
        if len(statuses) == 2:
            events.append((step.start, 1, statuses[0], step))
        events.append((step.end, 0, statuses[-1], step))
    events.sort(key=lambda item: (item[0], item[1], item[3].logical_id))
    return [(when, status, step) for when, _, status, step in events]
