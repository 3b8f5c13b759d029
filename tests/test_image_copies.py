"""Images that keep pulling (issue 15, item 3): the legacy engine's nodes and the Messages
API nodes run copies of their images kept in the stack's own ECR repository. The first
node to boot on an image copies it there (Docker Hub sees a stack's first boots only);
every later node pulls the copy. The boot script runs under bash with the stand-ins of
tests/test_boot_script.py, and a docker whose registry the test controls.
"""

import re
from pathlib import Path

import pytest
from test_boot_script import boot, boot_script, machine  # noqa: F401
from variants import VARIANTS

from pushstack.template import BOOT_SCRIPT, build_template
from pushstack.template.images import image_sources_note

MIRROR = "123456789012.dkr.ecr.us-west-2.amazonaws.com/push-test-imagerepository-abc"
HUB_IMAGE = "mozilla/autopush:1.57.0"
COPY = f"{MIRROR}:mozilla-autopush-1.57.0"


def header(t: dict, launch_template: str) -> str:
    data = t["Resources"][launch_template]["Properties"]["LaunchTemplateData"]
    sub = data["UserData"]["Fn::Base64"]["Fn::Join"][1][0]["Fn::Sub"]
    return sub[0] if isinstance(sub, list) else sub


@pytest.mark.parametrize("name", ["none", "firehose", "processor", "reuse-tables"])
def test_legacy_nodes_run_copies_from_the_stacks_repository(name):
    options = VARIANTS[name]
    t = build_template(options).to_dict()
    repository = t["Resources"]["ImageRepository"]
    assert repository["Type"] == "AWS::ECR::Repository"
    props = repository["Properties"]
    assert props["ImageTagMutability"] == "IMMUTABLE"  # no node replaces a copy
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    groups = {"Connection": "${AutopushImage}", "Endpoint": "${AutopushImage}"}
    if options.processor:
        groups["MessagesApi"] = "${MessagesApiImage}"
    for group, image in groups.items():
        text = header(t, f"{group}LaunchTemplate")
        assert "\nMIRROR=${ImageRepository.RepositoryUri}\n" in text
        assert f"\nIMAGE={image}\n" in text
    # Each node role: pulls (AWS managed, ECR only) and pushes into this repository only.
    for role in ("PushNodeRole", *(["MessagesApiRole"] if options.processor else [])):
        role_props = t["Resources"][role]["Properties"]
        assert {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
        } in role_props["ManagedPolicyArns"]
        [push] = [
            s
            for p in role_props["Policies"]
            for s in p["PolicyDocument"]["Statement"]
            if "ecr:PutImage" in s["Action"]
        ]
        assert push["Resource"] == [{"Fn::GetAtt": ["ImageRepository", "Arn"]}]
        assert "ecr:UploadLayerPart" in push["Action"]


def test_autopush_rs_nodes_copy_nothing():
    for name in ("rs", "rs-tls-ssh-images"):
        t = build_template(VARIANTS[name]).to_dict()
        for group in ("Connection", "Endpoint"):
            assert "MIRROR=" not in header(t, f"{group}LaunchTemplate")


def test_the_preview_says_where_each_image_comes_from():
    note = image_sources_note(VARIANTS["processor"])
    assert "run mozilla/autopush:1.57.0 from the stack's own ECR repository" in note
    assert "every later node pulls the copy" in note
    assert "NAT gateway" in note and "ecr.api, ecr.dkr" in note
    assert "S3 gateway endpoint on its route table" in note


# The boot script, run.

# docker whose registry the test controls: the copy exists once $ROOT/copied does;
# "docker.io" pulls fail $HUB_FAILURES times first; a push fails $PUSH_FAILURES times
# (a race: another node pushed it meanwhile, when $RACE is set).
DOCKER = """#!/bin/bash
echo "docker $*" >> "$CALLS"
count() { n=$(cat "$1"); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$1"; return 0; }; return 1; }
case "$1" in
  pull)
    case "$3" in
      *.dkr.ecr.*) [ -e "$ROOT/copied" ] || { echo "manifest unknown" >&2; exit 1; } ;;
      *) ! count "$ROOT/hub-failures" || { echo "toomanyrequests" >&2; exit 1; } ;;
    esac ;;
  push)
    if count "$ROOT/push-failures"; then
      [ -z "$RACE" ] || touch "$ROOT/copied"
      echo "tag invalid: the image tag already exists" >&2; exit 1
    fi
    touch "$ROOT/copied" ;;
esac
"""


def run_node(root: Path, script: str, *, copied=False, hub_failures=0, push_failures=0, race=False):
    (root / "bin" / "docker").write_text(DOCKER.replace("$ROOT", str(root)).replace(
        "$RACE", "1" if race else ""))  # fmt: skip
    (root / "hub-failures").write_text(str(hub_failures))
    (root / "push-failures").write_text(str(push_failures))
    if copied:
        (root / "copied").touch()
    return boot(root, script)


@pytest.fixture(scope="module", params=["ConnectionLaunchTemplate", "MessagesApiLaunchTemplate"])
def script(request):
    """A connection node's and a Messages API node's script, with real-looking values."""
    t = build_template(VARIANTS["processor"]).to_dict()
    text = boot_script(t, request.param, 30)
    text = text.replace("MIRROR=imagerepository.repositoryuri", f"MIRROR={MIRROR}")
    return re.sub(r"\nIMAGE=\w+\n", f"\nIMAGE={HUB_IMAGE}\n", text)


def docker_calls(calls):
    return [c for c in calls if c.startswith("docker ")]


def test_the_first_node_copies_the_image_into_the_stacks_repository(machine, script):  # noqa: F811
    result, calls, signals = run_node(machine, script)
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("aws ecr get-login-password --region us-west-2") for c in calls)
    assert docker_calls(calls)[:5] == [
        "docker login -u AWS --password-stdin 123456789012.dkr.ecr.us-west-2.amazonaws.com",
        f"docker pull -q {COPY}",
        f"docker pull -q {HUB_IMAGE}",
        f"docker tag {HUB_IMAGE} {COPY}",
        f"docker push -q {COPY}",
    ]
    [run] = [c for c in calls if c.startswith("docker run")]
    assert f" {COPY}" in run and HUB_IMAGE not in run
    assert len(signals) == 1 and "-e 0" in signals[0]


def test_later_nodes_pull_the_copy_and_never_docker_hub(machine, script):  # noqa: F811
    result, calls, signals = run_node(machine, script, copied=True)
    assert result.returncode == 0, result.stderr
    pulls = [c for c in calls if c.startswith("docker pull")]
    assert pulls == [f"docker pull -q {COPY}"]
    assert not any(c.startswith(("docker push", "docker tag")) for c in calls)
    assert "-e 0" in signals[0]


def test_a_refusing_docker_hub_is_retried_at_the_first_copy(machine, script):  # noqa: F811
    result, calls, signals = run_node(machine, script, hub_failures=2)
    assert result.returncode == 0, result.stderr
    assert len([c for c in calls if c == f"docker pull -q {HUB_IMAGE}"]) == 3
    assert any(c.startswith("docker push") for c in calls) and "-e 0" in signals[0]


def test_a_node_that_loses_the_race_to_copy_runs_the_other_nodes_copy(machine, script):  # noqa: F811
    result, calls, signals = run_node(machine, script, push_failures=1, race=True)
    assert result.returncode == 0, result.stderr
    # Its push refused (the tag exists, immutable): the copy is pulled, not pushed again.
    assert [c for c in calls if c.startswith("docker push")] == [f"docker push -q {COPY}"]
    assert [c for c in calls if c.startswith("docker pull")][-1] == f"docker pull -q {COPY}"
    assert "-e 0" in signals[0]


def test_a_copy_that_never_lands_fails_the_node_without_starting_it(machine, script):  # noqa: F811
    result, calls, signals = run_node(machine, script, push_failures=1000)
    assert result.returncode != 0 and "cannot copy" in result.stderr
    assert len([c for c in calls if c.startswith("docker push")]) == 5
    assert not any(c.startswith("docker run") for c in calls)
    assert len(signals) == 1 and "-e 1" in signals[0]


def test_an_image_already_in_ecr_is_pulled_where_it_is(machine, script):  # noqa: F811
    theirs = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/autopush:1.57.0"
    given = script.replace(f"\nIMAGE={HUB_IMAGE}\n", f"\nIMAGE={theirs}\n")
    result, calls, _ = run_node(machine, given, copied=True)
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("aws ecr get-login-password --region eu-west-1") for c in calls)
    assert [c for c in calls if c.startswith("docker pull")] == [f"docker pull -q {theirs}"]
    assert not any(c.startswith(("docker push", "docker tag")) for c in calls)


def test_the_copys_tag_fits_docker_for_an_image_pinned_by_digest(machine, script):  # noqa: F811
    digest = "sha256:" + "ab" * 32
    pinned = f"registry.example.com:5000/team/push-messages@{digest}"
    result, calls, _ = run_node(
        machine, script.replace(f"\nIMAGE={HUB_IMAGE}\n", f"\nIMAGE={pinned}\n")
    )
    assert result.returncode == 0, result.stderr
    [push] = [c for c in calls if c.startswith("docker push")]
    tag = push.rsplit(":", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag), tag
    assert "ab" * 32 in tag


def test_the_script_the_template_carries_is_the_one_run():
    assert "MIRROR" in BOOT_SCRIPT and "cannot copy" in BOOT_SCRIPT
