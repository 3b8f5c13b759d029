"""The sandbox's pacing: when each resource starts and ends (pushstack.sandbox_pace),
and a paced sandbox whose stack comes up resource by resource."""

import itertools
import time

import pytest
from listing import all_tables
from variants import VARIANTS

from pushstack import graph, render, sandbox_pace
from pushstack.template import build_template


def template_of(variant: str) -> dict:
    return render.to_dict(build_template(VARIANTS[variant]))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_full_stack_takes_20_to_40_seconds_in_dependency_order(variant):
    template = template_of(variant)
    steps = sandbox_pace.schedule(template, template["Resources"], 1.0)
    assert {step.logical_id for step in steps} == set(template["Resources"])
    assert 20 <= max(step.end for step in steps) <= 40
    ends = {step.logical_id: step.end for step in steps}
    starts = {step.logical_id: step.start for step in steps}
    for name, needs in graph.dependencies(template).items():
        for need in needs:
            assert starts[name] >= ends[need], (name, need)
    # Never a silence the wizard would take for an abandoned operation (30 s).
    moments = sorted(when for when, _, _ in sandbox_pace.timeline(steps))
    assert max(b - a for a, b in itertools.pairwise(moments)) < 30


def test_pace_scales_the_schedule_and_zero_means_at_once():
    template = template_of("none")
    at_one = sandbox_pace.schedule(template, template["Resources"], 1.0)
    at_tenth = sandbox_pace.schedule(template, template["Resources"], 0.1)
    assert max(s.end for s in at_tenth) == pytest.approx(max(s.end for s in at_one) / 10)
    assert sandbox_pace.schedule(template, template["Resources"], 0) == []


def test_only_what_the_sandbox_created_is_scheduled_and_waited_for():
    template = template_of("firehose")
    created = [name for name in template["Resources"] if name != "LogDeliveryStream"]
    steps = sandbox_pace.schedule(template, created, 1.0)
    assert "LogDeliveryStream" not in {step.logical_id for step in steps}
    nodes = next(step for step in steps if step.logical_id == "ConnectionNodes")
    assert nodes.start > 0  # it still waits for the rest


def test_events_come_in_dependency_order():
    """A resource's CREATE_IN_PROGRESS comes after the CREATE_COMPLETE of every resource it
    waits for, even when it starts at the very moment the last of them ends."""
    template = template_of("processor")
    needs = graph.dependencies(template)
    completed: set[str] = set()
    for _, status, step in sandbox_pace.timeline(
        sandbox_pace.schedule(template, template["Resources"], 1.0)
    ):
        if status == "CREATE_IN_PROGRESS":
            assert needs[step.logical_id] <= completed, step.logical_id
        else:
            completed.add(step.logical_id)


def test_an_update_modifies_in_order_then_cleans_up():
    template = template_of("none")
    steps = sandbox_pace.update_schedule(
        template,
        {"ConnectionLaunchTemplate": "UPDATE", "ConnectionNodes": "UPDATE"},
        [("LogBucket", "AWS::S3::Bucket", True), ("LogDeliveryRole", "AWS::IAM::Role", False)],
        1.0,
    )
    events = [(status, step.logical_id) for _, status, step in sandbox_pace.timeline(steps)]
    assert events.index(("UPDATE_COMPLETE", "ConnectionLaunchTemplate")) < events.index(
        ("UPDATE_IN_PROGRESS", "ConnectionNodes")
    )
    last_update = events.index(("UPDATE_COMPLETE", "ConnectionNodes"))
    assert events.index(("DELETE_IN_PROGRESS", "LogDeliveryRole")) > last_update
    assert ("DELETE_SKIPPED", "LogBucket") in events  # retained: skipped, never deleted
    assert ("DELETE_IN_PROGRESS", "LogBucket") not in events


def test_a_delete_goes_in_the_reverse_order_and_skips_what_is_retained():
    template = template_of("none")
    retained = ["RouterTable", "MessageTable", "CryptoKeySecret"]
    steps = sandbox_pace.delete_schedule(template, template["Resources"], retained, 1.0)
    events = sandbox_pace.timeline(steps)
    needs = graph.dependencies(template)
    deleted: set[str] = set()
    for _, status, step in events:
        if status == "DELETE_IN_PROGRESS":
            # Nothing still waits for it: all that need it are gone.
            waiting = {name for name, wanted in needs.items() if step.logical_id in wanted}
            assert waiting <= deleted, step.logical_id
        else:
            deleted.add(step.logical_id)
    statuses = {(status, step.logical_id) for _, status, step in events}
    for name in retained:
        assert ("DELETE_SKIPPED", name) in statuses
        assert ("DELETE_IN_PROGRESS", name) not in statuses
    assert ("DELETE_COMPLETE", "ConnectionNodes") in statuses
    assert sandbox_pace.delete_schedule(template, template["Resources"], retained, 0) == []


def test_each_resource_starts_then_completes():
    template = template_of("none")
    events = sandbox_pace.timeline(sandbox_pace.schedule(template, template["Resources"], 1.0))
    seen: dict[str, str] = {}
    for _, status, step in events:
        if status == "CREATE_IN_PROGRESS":
            assert step.logical_id not in seen
        else:
            assert seen[step.logical_id] == "CREATE_IN_PROGRESS"
        seen[step.logical_id] = status
    assert set(seen.values()) == {"CREATE_COMPLETE"}


@pytest.mark.parametrize(("value", "pace"), [("", 1.0), ("0", 0.0), ("0.25", 0.25), (" 2 ", 2.0)])
def test_pace_from_the_environment(value, pace):
    assert sandbox_pace.pace_from_environment({"PUSHSTACK_SANDBOX_PACE": value}) == pace
    assert sandbox_pace.pace_from_environment({}) == 1.0


@pytest.mark.parametrize("value", ["fast", "-1", "nan"])
def test_a_bad_pace_is_refused_in_words(value):
    with pytest.raises(ValueError, match="PUSHSTACK_SANDBOX_PACE must be a number of 0 or more"):
        sandbox_pace.pace_from_environment({"PUSHSTACK_SANDBOX_PACE": value})


@pytest.fixture
def paced_cloud(monkeypatch, fake_aws_env):
    """A Cloud on a sandbox of its own, paced fast (a full stack in about 3 s)."""
    from pushstack import sandbox
    from pushstack.cloud import Cloud, resolve_target

    monkeypatch.setenv("PUSHSTACK_SANDBOX_PACE", "0.1")
    server = sandbox.start()
    monkeypatch.setenv("PUSHSTACK_TARGET", "sandbox")
    monkeypatch.setenv("PUSHSTACK_SANDBOX_URL", server.url)
    yield Cloud(resolve_target())
    server.stop()


def _follow(cloud, ref: str, seconds: float = 30):
    """Progress reads until the operation ends: the last one, and every done count seen."""
    deadline = time.monotonic() + seconds
    dones = []
    while True:
        progress = cloud.progress(ref)
        dones.append(progress.done)
        if progress.finished or time.monotonic() > deadline:
            return progress, dones
        time.sleep(0.1)


def _resource_events(progress) -> list[tuple[str, str]]:
    return [(e.status, e.logical_id) for e in progress.events if not e.is_stack]


def test_a_paced_sandbox_creates_updates_and_deletes_resource_by_resource(paced_cloud):
    """Create, update, delete, each resource with its own events in dependency order,
    the stack in progress meanwhile, as in AWS."""
    import dataclasses

    from pushstack.options import from_input

    cloud = paced_cloud
    network = cloud.sandbox_network()
    options = from_input(
        {
            "stack_name": "paced",
            "engine": "autopush-legacy",  # its tables and nodes: the events this test follows
            "region": "us-east-1",
            "vpc_id": network.vpc_id,
            "subnet_ids": network.public_subnet_ids,
            "table_prefix": "paced_tables",
        }
    )

    # Create: resources listed as they begin, the bar moving between 0 and all.
    stack_id = cloud.launch(options, acknowledged=("CAPABILITY_IAM",), launch_id="paced")
    first = cloud.progress("paced")
    assert first.status == "CREATE_IN_PROGRESS" and first.done < first.total
    listed_early = len(cloud.resources("paced"))
    progress, dones = _follow(cloud, "paced")
    assert progress.status == "CREATE_COMPLETE" and progress.done == progress.total
    assert len(set(dones)) > 2
    assert listed_early < len(cloud.resources("paced"))
    events = _resource_events(progress)
    by_resource: dict[str, list[str]] = {}
    for status, logical_id in events:
        by_resource.setdefault(logical_id, []).append(status)
    assert by_resource and all(
        statuses == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"] for statuses in by_resource.values()
    )
    assert events.index(("CREATE_COMPLETE", "RouterTable")) < events.index(
        ("CREATE_IN_PROGRESS", "ConnectionNodes")
    )

    # Update: the changed resources only, and what reads their attributes, in order.
    change_set = cloud.create_change_set(
        "paced",
        dataclasses.replace(options, autopush_image="mozilla/autopush:1.58.0"),
        keep_crypto_key=True,
        acknowledged=("CAPABILITY_IAM",),
    )
    cloud.execute_change_set(change_set, "paced")
    assert cloud.progress("paced").status == "UPDATE_IN_PROGRESS"
    progress, _ = _follow(cloud, "paced")
    assert progress.status == "UPDATE_COMPLETE"
    events = _resource_events(progress)
    for group in ("Connection", "Endpoint"):
        assert events.index(("UPDATE_COMPLETE", f"{group}LaunchTemplate")) < events.index(
            ("UPDATE_IN_PROGRESS", f"{group}Nodes")
        )
    assert not any(logical_id == "RouterTable" for _, logical_id in events)  # unchanged
    assert "mozilla/autopush:1.58.0" in cloud.stack("paced").parameters.values()

    # Delete: still found by name while it goes, retained ones skipped, in reverse order.
    cloud.delete("paced")
    assert cloud.stack("paced").status == "DELETE_IN_PROGRESS"
    assert "paced" in [stack.name for stack in cloud.list_stacks()]
    progress, _ = _follow(cloud, stack_id)
    assert progress.status == "DELETE_COMPLETE" and progress.done == progress.total
    events = _resource_events(progress)
    assert events.index(("DELETE_COMPLETE", "ConnectionNodes")) < events.index(
        ("DELETE_IN_PROGRESS", "ConnectionLaunchTemplate")
    )
    assert ("DELETE_SKIPPED", "RouterTable") in events
    assert "paced_tables_router" in all_tables(cloud.target.client("dynamodb"))
    assert "paced" not in [stack.name for stack in cloud.list_stacks()]
