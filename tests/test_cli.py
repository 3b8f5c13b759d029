"""The command line, as the original's users typed it and as a shell sees it."""

import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
import yaml
from variants import CRYPTO_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pushstack", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flags", "resource", "present"),
    [
        ([], "LogDeliveryStream", False),
        (["--firehose"], "LogDeliveryStream", True),
        (["--firehose"], "ProcessorFunction", False),
        (["--processor"], "ProcessorFunction", True),
    ],
)
def test_push_prints_a_complete_json_template(flags, resource, present):
    result = run("push", *flags)
    assert result.returncode == 0, result.stderr
    template = json.loads(result.stdout)
    assert "ConnectionNodes" in template["Resources"]
    assert (resource in template["Resources"]) is present
    assert result.stderr == ""


def test_firehose_and_processor_together_work_as_in_the_original():
    """deploy.py push --firehose --processor: the processor implies Firehose."""
    both = run("push", "--firehose", "--processor")
    assert both.returncode == 0, both.stderr
    assert both.stdout == run("push", "--processor").stdout
    assert "ProcessorFunction" in json.loads(both.stdout)["Resources"]


def test_bare_command_prints_help_with_an_example_per_command():
    bare = run()
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout == run("--help").stdout
    text = bare.stdout
    for command, example in [
        ("push", "pushstack push --processor"),
        ("processor-zip", "pushstack processor-zip --region"),
    ]:
        assert command in text and example in text


def test_yaml_format():
    result = run("push", "--processor", "--format", "yaml")
    assert result.returncode == 0
    assert "ProcessorFunction" in yaml.safe_load(result.stdout)["Resources"]


def test_options_shape_the_template():
    result = run(
        "push",
        "--region",
        "us-west-2",
        "--certificate-arn",
        "arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012",
        "--key-name",
        "admin",
        "--ssh-cidr",
        "203.0.113.0/24",
        "--endpoint-hostname",
        "updates.push.example.com",
        "--websocket-hostname",
        "push.example.com",
    )
    template = json.loads(result.stdout)
    assert "ConnectionHttpsListener" in template["Resources"]
    assert "SshCidr" in template["Parameters"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["push", "--bogus"], "--bogus"),
        (["push", "--table-prefix", "no spaces"], "--table-prefix"),
        (["push", "--connection-min-size", "0"], "--connection-min-size"),
        (["push", "--region", "mars-1"], "--region"),
        (["push", "--key-name", "admin"], "--ssh-cidr"),
        (["push", "--ssh-cidr", "0.0.0.0/0", "--key-name", "a"], "--ssh-cidr"),
        (["deploy"], "deploy"),
        (["push", "--parameters-file", "/tmp/x.json"], "--vpc-id"),
        (["push", "--processor-code-bucket", "code"], "applies only with --processor"),
        (["push", "--firehose", "--redis-node-type", "cache.t3.small"], "--redis-node-type"),
        (["push", "--log-processing", "none"], "--log-processing"),
    ],
)
def test_bad_flag_or_value_is_one_line_naming_it_and_exit_2(args, named):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pushstack: error:")
    assert named in lines[0]


def test_bad_crypto_key_is_refused_without_quoting_it(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("not-a-key-but-secret-text")
    result = run("push", "--crypto-key-file", str(key_file))
    assert result.returncode == 2
    assert "--crypto-key-file" in result.stderr
    assert "not-a-key-but-secret-text" not in result.stderr


DEPLOY_FLAGS = [
    "--vpc-id", "vpc-0123456789abcdef0",
    "--subnet-ids", "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "--table-prefix", "autopush_cli",
]  # fmt: skip


def test_parameters_file_holds_the_key_and_is_private(tmp_path):
    path = tmp_path / "params.json"
    result = run("push", *DEPLOY_FLAGS, "--parameters-file", str(path),
                 env={"PUSHSTACK_CRYPTO_KEY": CRYPTO_KEY})  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries = {e["ParameterKey"]: e["ParameterValue"] for e in json.loads(path.read_text())}
    assert entries["CryptoKey"] == CRYPTO_KEY
    assert entries["CryptoKeyRevision"] == hashlib.sha256(CRYPTO_KEY.encode()).hexdigest()[:12]
    assert entries["SubnetIds"] == "subnet-0123456789abcdef0,subnet-0123456789abcdef1"
    assert entries["TablePrefix"] == "autopush_cli"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CRYPTO_KEY not in result.stdout and CRYPTO_KEY not in result.stderr
    assert "generated" not in result.stderr  # the key was given: nothing to warn about
    assert f"--parameters file://{path}" in result.stderr  # the command that uses the files


def test_an_existing_parameters_file_is_made_private(tmp_path):
    path = tmp_path / "params.json"
    path.write_text("old")
    path.chmod(0o644)
    assert run("push", *DEPLOY_FLAGS, "--parameters-file", str(path)).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_generated_key_is_announced_but_not_printed(tmp_path):
    path = tmp_path / "params.json"
    result = run("push", *DEPLOY_FLAGS, "--parameters-file", str(path))
    assert result.returncode == 0
    key = next(e for e in json.loads(path.read_text()) if e["ParameterKey"] == "CryptoKey")
    assert "generated a new crypto key" in result.stderr
    assert key["ParameterValue"] not in result.stdout + result.stderr


def test_output_survives_a_closed_pipe():
    shell = f"{sys.executable} -m pushstack push --processor | head -c 10"
    result = subprocess.run(shell, shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr


def test_every_problem_of_a_deployment_is_named_on_one_line(tmp_path):
    result = run("push", "--processor", "--vpc-id", "bogus",
                 "--parameters-file", str(tmp_path / "p.json"))  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    for flag in ("--vpc-id", "--subnet-ids", "--private-subnet-ids", "--messages-api-subnet-id"):
        assert flag in line
    assert not (tmp_path / "p.json").exists()


def test_a_bad_key_from_the_environment_is_named_as_such():
    result = run("push", env={"PUSHSTACK_CRYPTO_KEY": "not-a-key"})
    assert result.returncode == 2
    assert result.stderr.startswith("pushstack: error: PUSHSTACK_CRYPTO_KEY:")
    assert "not-a-key" not in result.stderr


# The console command, the processor's zip, and commands that always work (issue 7) --------


def test_the_console_command_works_from_any_folder(tmp_path):
    command = os.path.join(os.path.dirname(sys.executable), "pushstack")
    assert os.access(command, os.X_OK), "install with scripts/bootstrap.sh (pip install -e .)"
    result = subprocess.run(
        [command, "push", "--firehose"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "LogDeliveryStream" in json.loads(result.stdout)["Resources"]


def test_processor_zip_is_written_with_the_upload_commands(tmp_path):
    from pushstack.processor_zip import build_zip, zip_key

    result = subprocess.run(
        [sys.executable, "-m", "pushstack", "processor-zip", "--region", "eu-west-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert result.returncode == 0, result.stderr
    written = tmp_path / zip_key().rsplit("/", 1)[-1]
    assert result.stdout.strip() == written.name
    assert written.read_bytes() == build_zip()
    bucket = "pushstack-artifacts-$ACCOUNT-eu-west-1"
    assert f'aws s3 cp {written.name} "s3://{bucket}/{zip_key()}"' in result.stderr
    assert "ACCOUNT=$(aws sts get-caller-identity" in result.stderr


def test_processor_zip_goes_where_asked(tmp_path):
    target = tmp_path / "code.zip"
    result = run("processor-zip", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.stat().st_size > 0 and f"aws s3 cp {target} " in result.stderr


def test_list_flags_say_how_to_give_several():
    result = run("push", "--help")
    text = " ".join(result.stdout.split())
    assert "One per line" not in text
    assert "Comma-separated." in text


def test_the_printed_command_works_for_the_largest_yaml_template(tmp_path):
    """A new user's first try: --processor --format yaml with TLS and SSH."""
    result = run(
        "push", "--processor", "--format", "yaml", *DEPLOY_FLAGS,
        "--private-subnet-ids", "subnet-0123456789abcdef2",
        "--private-route-table-ids", "rtb-0123456789abcdef0",
        "--messages-api-subnet-id", "subnet-0123456789abcdef2",
        "--certificate-arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
        "--endpoint-hostname", "updates.push.example.com",
        "--websocket-hostname", "push.example.com",
        "--messages-api-hostname", "messages.push.example.com",
        "--hosted-zone-id", "Z0123456789ABCDEFGHIJ",
        "--key-name", "admin", "--ssh-cidr", "203.0.113.0/24",
        "--parameters-file", str(tmp_path / "p.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.encode()) <= 51_200
    assert "ProcessorFunction" in yaml.safe_load(result.stdout)["Resources"]
    assert "--template-body file://autopush.template.yaml" in result.stderr
    assert "--tags Key=pushstack:managed,Value=true" in result.stderr
    assert "pushstack processor-zip --region us-east-1" in result.stderr


def test_a_template_too_large_to_pass_inline_is_deployed_through_s3(tmp_path):
    from argparse import Namespace

    from pushstack import cli
    from pushstack.options import Options

    text = "x" * 51_201
    args = Namespace(parameters_file=tmp_path / "p.json")
    words = cli.deploy_instructions(Options(region="eu-west-1"), "t.yaml", args, text)
    assert "--template-body" not in words
    assert (
        'aws s3 cp t.yaml "s3://pushstack-artifacts-$ACCOUNT-eu-west-1/templates/t.yaml"' in words
    )
    assert (
        '--template-url "https://pushstack-artifacts-$ACCOUNT-eu-west-1.s3.eu-west-1'
        '.amazonaws.com/templates/t.yaml"'
    ) in words


def test_the_readme_sample_command_is_the_one_the_tool_prints():
    from pushstack import render
    from pushstack.options import Options

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    sample = " ".join(
        section.split("    aws cloudformation create-stack", 1)[1]
        .split("\n\n", 1)[0]
        .replace("\\\n", " ")
        .split()
    )
    printed = render.create_stack_command(
        Options(stack_name="push", region="us-west-2"),
        "push.template.json",
        "push.parameters.json",
    )
    assert "aws cloudformation create-stack " + sample == printed
    assert "pushstack push" in section and "python -m pushstack push" not in section


def test_the_engine_follows_the_seeds_flags_unless_asked(tmp_path):
    """push alone is autopush-rs; the seed's --firehose/--processor and table flags keep
    autopush 1.57.0; asking autopush-rs with them is one plain line naming the flag."""
    import json
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pushstack", "push", *args], capture_output=True, text=True
        )

    assert "autopush-rs on Valkey" in json.loads(run().stdout)["Description"]
    assert "1.57.0 on DynamoDB" in json.loads(run("--firehose").stdout)["Description"]
    assert "1.57.0 on DynamoDB" in json.loads(run("--table-prefix", "abcd").stdout)["Description"]
    refused = run("--engine", "autopush-rs", "--processor")
    assert refused.returncode == 2 and refused.stderr.startswith(
        "pushstack: error: --processor: autopush-rs cannot feed this"
    )
    refused = run("--engine", "autopush-rs", "--table-prefix", "abcd")
    assert refused.returncode == 2
    assert "--table-prefix applies only with --engine autopush-legacy" in refused.stderr
