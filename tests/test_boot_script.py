"""The nodes' boot script, run for real under bash with stand-ins for the machine.

dnf, docker, the AWS CLI, curl and cfn-signal are small shell stand-ins that
record how they were called; /etc is a temporary folder. What is checked is
what CloudFormation and autopush would see: the signal, and the env file.
"""

import importlib.metadata
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from variants import CRYPTO_KEY, OLD_CRYPTO_KEY, VARIANTS

from pushstack.template import BOOT_SCRIPT, build_template

STAND_INS = {
    # The health check prints the status the test chooses; IMDS answers too.
    "curl": """case "$*" in
  *api/token*) echo token ;;
  *local-ipv4*) echo 10.0.0.5 ;;
  *) echo "$HEALTH_CODE" ;;
esac""",
    # Each service answers as the test chooses; "not yet" answers count down in files.
    "aws": """echo "aws $*" >> "$CALLS"
[ -z "$AWS_FAILS" ] || { echo "Unable to locate credentials" >&2; exit 253; }
later() { n=$(cat "$1" 2>/dev/null || echo 0); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$1"; return 0; }; return 1; }
case "$1" in
  secretsmanager) echo "$THE_KEY" ;;
  ssm) later "$SSM_LATER" && { echo "ParameterNotFound" >&2; exit 254; }; echo "$ENDPOINT_NAME" ;;
  elasticache) later "$REDIS_LATER" && { echo None; exit 0; }; printf '%s\t%s\n' "$REDIS_ADDRESS" 6379 ;;
esac""",
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


# As CloudFormation names a load balancer: with capitals, which the nodes lowercase.
ENDPOINT_NAME = "push-t-Endpo-1A2B3C4D5E6F7-123456789.us-west-2.elb.amazonaws.com"
REDIS_ADDRESS = "push-redis-1a2b3c4d.abcdef.0001.usw2.cache.amazonaws.com"


def boot(
    machine: Path,
    script: str,
    *,
    health=200,
    aws_fails=False,
    key=CRYPTO_KEY,
    ssm_later=0,
    redis_later=0,
):
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
        "THE_KEY": key,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "REDIS_ADDRESS": REDIS_ADDRESS,
        "SSM_LATER": str(machine / "ssm-later"),
        "REDIS_LATER": str(machine / "redis-later"),
    }
    (machine / "ssm-later").write_text(str(ssm_later))
    (machine / "redis-later").write_text(str(redis_later))
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
    assert settings["CRYPTO_KEY"] == f"[{CRYPTO_KEY}]"
    assert settings["ENDPOINT_HOSTNAME"] == ENDPOINT_NAME.lower()  # read from the stack's parameter
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
    assert len([line for line in calls if line.startswith("aws secretsmanager")]) == 5
    assert not any(line.startswith("docker run") for line in calls)  # never started keyless


def env_file(machine: Path) -> dict:
    return dict(
        line.split("=", 1) for line in (machine / "etc" / "push.env").read_text().splitlines()
    )


def test_messages_api_waits_for_redis_address_then_for_its_heartbeat(machine):
    """Booted while Redis is created: it waits for Redis's address, then for /__heartbeat__."""
    template = build_template(VARIANTS["processor"]).to_dict()
    script = boot_script(template, "MessagesApiLaunchTemplate", 300)
    result, calls, signals = boot(machine, script, redis_later=3)
    assert result.returncode == 0, result.stderr
    assert len(signals) == 1 and "-e 0" in signals[0]
    lookups = [line for line in calls if line.startswith("aws elasticache")]
    assert len(lookups) == 4
    assert all("describe-replication-groups" in line for line in lookups)
    assert "--replication-group-id redisgroupid " in lookups[0]
    assert not any(line.startswith("aws secretsmanager") for line in calls)  # no key to read
    settings = env_file(machine)
    assert settings["REDIS_HOST"] == REDIS_ADDRESS and settings["REDIS_PORT"] == "6379"
    assert "CRYPTO_KEY" not in settings and "REDIS_ELASTICACHE" not in settings
    assert "HEALTH=/__heartbeat__" in script


def test_messages_api_gives_up_when_redis_never_gets_an_address(machine):
    template = build_template(VARIANTS["processor"]).to_dict()
    script = boot_script(template, "MessagesApiLaunchTemplate", 0)
    result, calls, signals = boot(machine, script, redis_later=1000)
    assert result.returncode != 0 and "Redis" in result.stderr
    assert len(signals) == 1 and "-e 1" in signals[0]
    assert not any(line.startswith("docker run") for line in calls)


def test_push_nodes_wait_for_the_endpoint_name_the_stack_writes(machine, template):
    """The nodes boot while the load balancer is created, then read its name (item 7)."""
    script = boot_script(template, "EndpointLaunchTemplate", 300)
    result, calls, signals = boot(machine, script, ssm_later=2)
    assert result.returncode == 0, result.stderr
    assert len([line for line in calls if line.startswith("aws ssm get-parameter")]) == 3
    assert env_file(machine)["ENDPOINT_HOSTNAME"] == ENDPOINT_NAME.lower()
    assert "-e 0" in signals[0]


def test_a_given_host_name_needs_no_lookup(machine):
    template = build_template(VARIANTS["processor-tls-ssh"]).to_dict()
    script = boot_script(template, "ConnectionLaunchTemplate", 30)
    result, calls, _ = boot(machine, script)
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("aws ssm") for line in calls)
    # ${EndpointHostname}, as boot_script() fills in what CloudFormation would.
    assert env_file(machine)["ENDPOINT_HOSTNAME"] == "endpointhostname"


def autopush_crypto_keys(machine: Path) -> list[str]:
    """What autopush 1.57.0 makes of the env file: its --crypto_key argument, as declared
    in its main_argparse.py, read by ConfigArgParse from the environment docker passes."""
    import configargparse

    assert importlib.metadata.version("ConfigArgParse") == "1.0"  # as autopush 1.57.0 pins
    parser = configargparse.ArgParser()
    parser.add_argument(
        "--crypto_key",
        help="Crypto key for tokens",
        default=None,
        env_var="CRYPTO_KEY",
        type=str,
        action="append",
    )
    # docker run --env-file: one VAR=value a line, taken literally.
    environment = env_file(machine)
    saved = os.environ.get("CRYPTO_KEY")
    os.environ["CRYPTO_KEY"] = environment["CRYPTO_KEY"]
    try:
        return parser.parse_args([]).crypto_key
    finally:
        if saved is None:
            del os.environ["CRYPTO_KEY"]
        else:
            os.environ["CRYPTO_KEY"] = saved


@pytest.mark.parametrize(
    "keys", [[CRYPTO_KEY], [CRYPTO_KEY, OLD_CRYPTO_KEY]], ids=["one key", "two keys"]
)
def test_autopush_reads_every_key_of_the_env_file(machine, template, keys):
    """Rotation: autopush must get every key, newest first, not one string with a comma."""
    script = boot_script(template, "EndpointLaunchTemplate", 30)
    result, _, _ = boot(machine, script, key=",".join(keys))
    assert result.returncode == 0, result.stderr
    assert autopush_crypto_keys(machine) == keys


def test_rs_nodes_read_their_store_address_from_its_replication_group(machine):
    """The store's and Redis's lookups share one function (#16 item 8): the store's still
    names its group and lands in the DSN."""
    template = build_template(VARIANTS["rs"]).to_dict()
    script = boot_script(template, "ConnectionLaunchTemplate", 30)
    result, calls, signals = boot(machine, script)
    assert result.returncode == 0, result.stderr
    [lookup] = [line for line in calls if line.startswith("aws elasticache")]
    assert (
        "describe-replication-groups" in lookup and "--replication-group-id storegroupid " in lookup
    )
    assert env_file(machine)["AUTOCONNECT__DB_DSN"] == f"redis://{REDIS_ADDRESS}:6379"
    assert "-e 0" in signals[0]
