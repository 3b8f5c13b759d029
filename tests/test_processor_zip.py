"""The processor Lambda's zip, as pushstack builds it for upload."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from pushstack import processor_zip
from pushstack.artifacts import PROCESSOR_KEY_PREFIX

ROOT = Path(__file__).resolve().parent.parent


def test_build_is_deterministic():
    first = processor_zip.build_zip()
    second = processor_zip.build_zip()
    assert first == second
    print(f"processor zip: {len(first):,} bytes")
    # Uploaded directly or through S3, far below Lambda's 50 MB zip limit.
    assert len(first) < 5 * 1024 * 1024


def test_contents_are_the_handler_and_the_installed_redis_package():
    archive = zipfile.ZipFile(io.BytesIO(processor_zip.build_zip()))
    names = archive.namelist()
    assert names[0] == "push_processor.py"
    assert archive.read("push_processor.py") == (ROOT / "processor/push_processor.py").read_bytes()
    installed = sorted(
        str(f)
        for f in importlib.metadata.distribution("redis").files
        if str(f).startswith("redis/") and "__pycache__" not in str(f)
    )
    assert names[1:] == installed
    assert "redis/__init__.py" in names
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert (info.external_attr >> 16) & 0o777 == 0o644
    assert archive.testzip() is None


def test_zip_key_names_the_content(tmp_path):
    key = processor_zip.zip_key()
    data = processor_zip.build_zip()
    assert re.fullmatch(re.escape(PROCESSOR_KEY_PREFIX) + r"push-processor-[0-9a-f]{16}\.zip", key)
    assert key == f"processor/push-processor-{hashlib.sha256(data).hexdigest()[:16]}.zip"
    assert processor_zip.zip_key() is key  # computed once per process
    written = processor_zip.write_zip(tmp_path / "processor.zip")
    assert written.read_bytes() == data


def test_unzipped_package_imports_on_its_own(tmp_path):
    """Only the zip's own files and the standard library, as in Lambda (which
    adds boto3, not needed to import the handler): the handler name resolves,
    redis comes from the zip, and an S3 test event is answered."""
    zipfile.ZipFile(io.BytesIO(processor_zip.build_zip())).extractall(tmp_path)
    script = f"""
import importlib, sys
sys.path.insert(0, {str(tmp_path)!r})
module_name, function_name = {processor_zip.HANDLER!r}.rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
import redis
assert redis.__file__.startswith({str(tmp_path)!r}), redis.__file__
assert "boto3" not in sys.modules
print(handler({{"Service": "Amazon S3", "Event": "s3:TestEvent"}}, None)["objects"])
"""
    # -I: no user site, no environment; -S: not even the virtual environment's packages.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
