"""Rendered templates against reviewed golden files.

A change to the template shows here as a readable diff. After reviewing it,
update the files with:  PUSHSTACK_UPDATE_GOLDEN=1 scripts/test tests/test_golden.py
"""

import difflib
import json
import os
from pathlib import Path

import pytest
from variants import VARIANTS

from pushstack.processor_zip import zip_key
from pushstack.template import build_template

GOLDEN = Path(__file__).parent / "golden"
# The processor zip's key names its content, which changes with the processor's
# code: the golden files hold this placeholder instead.
ZIP_KEY_PLACEHOLDER = "processor/push-processor-<content hash>.zip"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_template_matches_golden_file(name):
    rendered = json.dumps(build_template(VARIANTS[name]).to_dict(), indent=2) + "\n"
    rendered = rendered.replace(zip_key(), ZIP_KEY_PLACEHOLDER)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("PUSHSTACK_UPDATE_GOLDEN"):
        path.write_text(rendered)
    expected = path.read_text() if path.exists() else ""
    if rendered != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"golden/{name}.json",
                tofile="rendered",
            )
        )
        pytest.fail(
            f"template {name} differs from its golden file; review, then update with "
            f"PUSHSTACK_UPDATE_GOLDEN=1 scripts/test tests/test_golden.py\n{diff[:20000]}"
        )
