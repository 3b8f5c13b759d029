"""The nodes' boot script, run for real under bash with stand-ins for the machine.

dnf, docker, the AWS CLI, curl and cfn-signal are small shell stand-ins that
record how they were called; /etc is a temporary folder. What is checked is
what CloudFormation and autopush would see: the signal, and the env file.
"""

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from variants import CRYPTO_KEY, VARIANTS

from pushstack.template import BOOT_SCRIPT, build_template

STAND_INS = {
    # The health check prints the status the test chooses; IMDS answers too.
    "curl": """case "$*" in
  *api/token*) echo token ;;
  *local-ipv4*) echo 10.0.0.5 ;;
  *) echo "$HEALTH_CODE" ;;
esac""",
    "aws": """echo "aws $*" >> "$CALLS"
[ -z "$AWS_FAILS" ] || { echo "Unable to locate credentials" >&2; exit 253; }
echo "$THE_KEY" """,
    "cfn-signal": 'echo "signal $*" >> "$CALLS"',
    "docker": 'echo "docker $*" >> "$CALLS"',
    "dnf": 'echo "dnf $*" >> "$CALLS"',
    "systemctl": "true",
    "sysctl": "true",
    "sleep": "true",
}


def boot_script(template: dict, launch_template: str, wait_seconds: int) -> str:
    """The script a node of this launch template runs, placeholders filled in."""
    data = template["Resources"][launch_template]["Properties"]["LaunchTemplateData"]
    sub = data["UserData"]["Fn::Base64"]["Fn::Join"][1][0]["Fn::Sub"]
    header = sub[0] if isinstance(sub, list) else sub
    header = re.sub(
        r"\$\{([A-Za-z0-9:.]+)\}", lambda m: m.group(1).replace(":", "_").lower(), header
    )
    header = re.sub(r"WAIT_SECONDS=\d+", f"WAIT_SECONDS={wait_seconds}", header)
    return header + BOOT_SCRIPT


@pytest.fixture
def machine(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STAND_INS.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + body + "\n")
        path.chmod(0o755)
    (tmp_path / "etc" / "sysctl.d").mkdir(parents=True)
    return tmp_path


def boot(machine: Path, script: str, *, health=200, aws_fails=False):
    script = script.replace("/etc/", f"{machine}/etc/").replace(
        "/opt/aws/bin/cfn-signal", "cfn-signal"
    )
    calls = machine / "calls"
    calls.write_text("")
    env = {
        "PATH": f"{machine / 'bin'}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "HEALTH_CODE": str(health),
        "AWS_FAILS": "1" if aws_fails else "",
        "THE_KEY": CRYPTO_KEY,
    }
    result = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    lines = calls.read_text().splitlines()
    signals = [line for line in lines if line.startswith("signal")]
    return result, lines, signals


@pytest.fixture(scope="module")
def template():
    return build_template(VARIANTS["firehose"]).to_dict()


def test_a_healthy_connection_node_signals_success_with_its_settings(machine, template):
    result, calls, signals = boot(machine, boot_script(template, "ConnectionLaunchTemplate", 30))
    assert result.returncode == 0, result.stderr
    assert len(signals) == 1 and "-e 0" in signals[0]
    assert "--resource ConnectionNodes" in signals[0]
    env_file = machine / "etc" / "push.env"
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert settings["CRYPTO_KEY"] == CRYPTO_KEY
    assert settings["ROUTER_HOSTNAME"] == "10.0.0.5"
    assert settings["ROUTER_TABLENAME"] == "tableprefix_router"
    assert settings["STREAM_NAME"] == "logstreamname"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    [run] = [line for line in calls if line.startswith("docker run")]
    assert "--ulimit nofile=1000000:1000000" in run and run.endswith(" autopush")
    assert CRYPTO_KEY not in run and CRYPTO_KEY not in result.stdout + result.stderr
    assert "net.core.somaxconn" in (machine / "etc" / "sysctl.d" / "90-push.conf").read_text()


def test_an_unhealthy_node_signals_failure_once_at_its_deadline(machine, template):
    _, _, signals = boot(machine, boot_script(template, "EndpointLaunchTemplate", 1), health=500)
    assert len(signals) == 1 and "-e 1" in signals[0]


def test_a_key_that_cannot_be_read_stops_the_boot_after_a_few_tries(machine, template):
    result, calls, signals = boot(
        machine, boot_script(template, "ConnectionLaunchTemplate", 30), aws_fails=True
    )
    assert result.returncode != 0
    assert len(signals) == 1 and "-e 1" in signals[0]
    assert len([line for line in calls if line.startswith("aws secretsmanager")]) == 6
    assert not any(line.startswith("docker run") for line in calls)  # never started keyless


def test_messages_api_counts_a_4xx_answer_as_up_like_its_load_balancer(machine):
    template = build_template(VARIANTS["processor"]).to_dict()
    script = boot_script(template, "MessagesApiLaunchTemplate", 30)
    _, calls, signals = boot(machine, script, health=404)
    assert len(signals) == 1 and "-e 0" in signals[0]
    assert not any(line.startswith("aws") for line in calls)  # no key to read
    settings = (machine / "etc" / "push.env").read_text()
    assert "CRYPTO_KEY" not in settings and "REDIS_ELASTICACHE=" in settings
