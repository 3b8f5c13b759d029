"""The boot script's retries: a transient dnf or registry failure does not roll the stack back.

The script runs under bash with tests/test_boot_script.py's stand-ins; here dnf and
docker pull fail a chosen number of times first, and sleep records its pauses.
"""

from pathlib import Path

import pytest
from test_boot_script import boot, boot_script, machine  # noqa: F401
from variants import VARIANTS

from pushstack.template import build_template

# Fails the first $FAILS_FILE-counted calls of the named command, then works.
FLAKY = """n=$(cat "{counter}"); echo "{name} $*" >> "$CALLS"
if [ "$n" -gt 0 ]; then echo $((n - 1)) > "{counter}"; echo "{name}: transient error" >&2; exit 1; fi
{then}"""


def flaky(root: Path, name: str, failures: int, then: str = "true") -> None:
    counter = root / f"{name}-failures"
    counter.write_text(str(failures))
    (root / "bin" / name).write_text(
        "#!/bin/bash\n" + FLAKY.format(counter=counter, name=name, then=then) + "\n"
    )


def flaky_docker(root: Path, pull_failures: int) -> None:
    """docker whose pull fails first; its other commands only record themselves."""
    counter = root / "pull-failures"
    counter.write_text(str(pull_failures))
    (root / "bin" / "docker").write_text(
        f"""#!/bin/bash
echo "docker $*" >> "$CALLS"
if [ "$1" = pull ]; then
  n=$(cat "{counter}")
  if [ "$n" -gt 0 ]; then echo $((n - 1)) > "{counter}"; echo "toomanyrequests" >&2; exit 1; fi
fi
"""
    )


def record_sleeps(root: Path) -> None:
    (root / "bin" / "sleep").write_text('#!/bin/bash\necho "sleep $*" >> "$CALLS"\n')


@pytest.fixture(scope="module", params=["none", "rs"])
def script(request):
    """A connection node's script, of each engine."""
    template = build_template(VARIANTS[request.param]).to_dict()
    return boot_script(template, "ConnectionLaunchTemplate", 30)


def test_a_transient_dnf_failure_is_retried_with_growing_pauses(machine, script):  # noqa: F811
    flaky(machine, "dnf", 2)
    record_sleeps(machine)
    result, calls, signals = boot(machine, script)
    assert result.returncode == 0, result.stderr
    assert len([c for c in calls if c.startswith("dnf install")]) == 3
    pauses = [int(c.split()[1]) for c in calls if c.startswith("sleep")][:2]
    assert pauses[0] < pauses[1]  # backing off, not hammering a failing mirror
    assert len(signals) == 1 and "-e 0" in signals[0]


def test_dnf_that_keeps_failing_signals_failure_after_a_few_tries(machine, script):  # noqa: F811
    flaky(machine, "dnf", 1000)
    result, calls, signals = boot(machine, script)
    assert result.returncode != 0 and "cannot install packages" in result.stderr
    assert len([c for c in calls if c.startswith("dnf install")]) == 5
    assert len(signals) == 1 and "-e 1" in signals[0]
    assert not any(c.startswith("docker run") for c in calls)


def test_a_refused_image_pull_is_retried_before_the_service_starts(machine, script):  # noqa: F811
    flaky_docker(machine, 3)
    result, calls, signals = boot(machine, script)
    assert result.returncode == 0, result.stderr
    pulls = [i for i, c in enumerate(calls) if c.startswith("docker pull")]
    [run] = [i for i, c in enumerate(calls) if c.startswith("docker run")]
    assert len(pulls) == 4 and pulls[-1] < run
    assert "-e 0" in signals[0]


def test_an_image_that_never_pulls_fails_the_node_without_starting_it(machine, script):  # noqa: F811
    flaky_docker(machine, 1000)
    result, calls, signals = boot(machine, script)
    assert result.returncode != 0 and "cannot pull" in result.stderr
    pulls = [c for c in calls if c.startswith("docker pull")]
    if "MIRROR=" in script:  # the legacy engine: its copy in ECR, once, then the source
        assert "repositoryuri" in pulls.pop(0)
    assert len(pulls) == 5
    assert not any(c.startswith("docker run") for c in calls)
    assert len(signals) == 1 and "-e 1" in signals[0]
