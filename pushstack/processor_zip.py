"""The processor Lambda's deployment package, built by pushstack itself.

The zip holds ``push_processor.py`` (the project's ``processor/`` folder) at
its top and the ``redis`` package, copied from the installed distribution
(pinned in requirements.txt): the Lambda runtime provides the rest (the AWS SDK).
The build is deterministic (fixed timestamps, permissions and order), so the
same sources always give the same bytes, and the object key names the
content: ``processor/push-processor-<sha256 prefix>.zip``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path, PurePosixPath

from pushstack.artifacts import PROCESSOR_KEY_PREFIX

HANDLER = "push_processor.handler"
HANDLER_FILE = Path(__file__).resolve().parent.parent / "processor" / "push_processor.py"
DISTRIBUTION = "redis"
PACKAGE = "redis"
# Zip cannot hold dates before 1980; any fixed date makes the build repeatable.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644


class ProcessorZipError(RuntimeError):
    """The zip cannot be built here; the message says what is missing."""


def package_files() -> list[tuple[str, bytes]]:
    """(path inside the zip, content) of every file, in the zip's order."""
    if not HANDLER_FILE.is_file():
        raise ProcessorZipError(
            f"the processor's source {HANDLER_FILE} is missing: run pushstack from its "
            "repository (or an editable install of it)"
        )
    files = [("push_processor.py", HANDLER_FILE.read_bytes())]
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ProcessorZipError(
            f"the {DISTRIBUTION!r} package is not installed (see requirements.txt)"
        ) from None
    for entry in sorted(dist.files or [], key=str):
        parts = PurePosixPath(str(entry)).parts
        if not parts or parts[0] != PACKAGE or "__pycache__" in parts:
            continue
        if entry.suffix == ".pyc":
            continue
        files.append((str(PurePosixPath(*parts)), Path(entry.locate()).read_bytes()))
    if len(files) == 1:
        raise ProcessorZipError(f"the installed {DISTRIBUTION!r} package lists no files")
    return files


def build_zip() -> bytes:
    """The Lambda deployment package (handler ``push_processor.handler``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in package_files():
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | FILE_MODE) << 16  # a regular file, rw-r--r--
            info.create_system = 3  # Unix, so the mode above is honoured
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()


@functools.cache
def _zip_and_key() -> tuple[bytes, str]:
    data = build_zip()
    return data, f"{PROCESSOR_KEY_PREFIX}push-processor-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def zip_bytes() -> bytes:
    """The package, built once per process (the sources do not change under it)."""
    return _zip_and_key()[0]


def zip_key() -> str:
    """The artifacts bucket key the package is uploaded to; names its content."""
    return _zip_and_key()[1]


def write_zip(path: str | Path) -> Path:
    """Write the package to ``path``; returns the path."""
    target = Path(path)
    target.write_bytes(zip_bytes())
    return target
