"""Every template variant through cfn-lint (all regions) and checkov.

cfn-lint must report nothing at all, warnings included. checkov must fail no
check, and every check a resource skips must be one that would otherwise fail:
no stale or blanket exceptions.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from variants import VARIANTS

from pushstack.render import to_json
from pushstack.template import build_template

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    for name, options in VARIANTS.items():
        (folder / f"{name}.json").write_text(to_json(build_template(options)))
    return folder


def test_cfn_lint_all_regions_finds_nothing(template_dir):
    files = sorted(str(p) for p in template_dir.glob("*.json"))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--regions",
            "ALL_REGIONS",
            "--format",
            "parseable",
            "--",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout == "" and result.returncode == 0, result.stdout + result.stderr


def checkov_command() -> str:
    """checkov from scripts/test (which must have it), or from a developer's earlier run."""
    required = os.environ.get("PUSHSTACK_CHECKOV")
    command = required or str(ROOT / ".venv-checkov/bin/checkov")
    if not shutil.which(command):
        if required:
            pytest.fail(f"checkov is missing at {required}: scripts/test should have installed it")
        pytest.skip("checkov is not installed: scripts/test installs it in .venv-checkov")
    return command


def run_checkov(folder: Path) -> dict:
    result = subprocess.run(
        [checkov_command(), "--directory", str(folder), "--framework", "cloudformation",
         "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no look-ups on the network
    )  # fmt: skip
    assert result.stdout.startswith(("{", "[")), result.stdout[:2000] + result.stderr[-2000:]
    reports = json.loads(result.stdout)
    return reports[0] if isinstance(reports, list) else reports


def checks(report, kind):
    return {
        (Path(c["file_path"]).stem, c["resource"].split(".")[-1], c["check_id"])
        for c in report["results"][kind]
    }


def without_skips(template: dict) -> dict:
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
        if resource.get("Metadata") == {}:
            del resource["Metadata"]
    return template


def test_checkov_fails_nothing_and_every_skip_is_needed(template_dir, tmp_path):
    report = run_checkov(template_dir)
    assert checks(report, "failed_checks") == set()
    skipped = checks(report, "skipped_checks")
    assert skipped, "no exceptions at all would mean checkov did not read the metadata"
    for check in report["results"]["skipped_checks"]:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert reason.strip(), f"{check['check_id']} skipped without a reason"
    # The same templates without their exceptions: exactly the skipped checks fail.
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in template_dir.glob("*.json"):
        (bare / path.name).write_text(json.dumps(without_skips(json.loads(path.read_text()))))
    assert checks(run_checkov(bare), "failed_checks") == skipped
