"""Rendered previews shared by the wizard's worker processes through files.

A template shape's preview (JSON and YAML text, their highlighting, the summary,
the diagram) takes a second or two of CPU; each process rendering each shape
itself made the first minute after a start slow (four workers, four renders of
every shape). Here the first process to need a shape takes its file lock,
renders it and writes it; the others wait on the lock, then read the file. The
files hold no option value (shapes are rendered without the crypto key and
with every value a parameter), are named by the shape and a digest of the code
that renders them (a new version never reads an old render), in a folder only
this user can open.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from markupsafe import Markup

from pushstack import summary

# What a rendered preview depends on besides its shape.
_SOURCES = ("pushstack/template", "pushstack/render.py", "pushstack/summary.py",
            "pushstack/diagram.py", "pushstack/graph.py", "webapp/preview.py")  # fmt: skip
_ROOT = Path(__file__).resolve().parent.parent
_MARKUP = ("highlighted_json", "highlighted_yaml", "svg")


@functools.cache
def code_digest() -> str:
    digest = hashlib.sha256()
    for source in _SOURCES:
        path = _ROOT / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


class PreviewFiles:
    """Rendered artifacts by shape in ``folder``, rendered once for all processes."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._usable: bool | None = None

    def usable(self) -> bool:
        if self._usable is None:
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = self.folder.stat()
                self._usable = info.st_uid == os.getuid() and not info.st_mode & 0o077
            except OSError:
                self._usable = False
        return self._usable

    def get(self, key, render: Callable[[], object], rebuild: Callable[[dict], object]):
        """The artifacts of shape ``key``: read from its file, else ``render()``'s, written.

        ``rebuild(fields)`` makes the artifacts from the file's fields (the caller adds
        what is not stored, such as the troposphere template, cheap to build again).
        """
        if not self.usable():
            return render()
        name = hashlib.sha256(json.dumps([code_digest(), key]).encode()).hexdigest()
        path = self.folder / f"{name}.json"
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process renders; the others wait, then read
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                return rebuild(_decode(json.loads(path.read_text())))
            artifacts = render()
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(_encode(artifacts)))
            partial.replace(path)
            return artifacts


def _encode(artifacts) -> dict:
    data = {
        field.name: getattr(artifacts, field.name)
        for field in dataclasses.fields(artifacts)
        if field.name != "template"
    }
    data["summary"] = dataclasses.asdict(data["summary"])
    for name in _MARKUP:
        data[name] = None if data[name] is None else str(data[name])
    return data


def _decode(data: dict) -> dict:
    data = dict(data)
    found = data["summary"]
    data["summary"] = summary.Summary(
        resource_counts=[tuple(pair) for pair in found["resource_counts"]],
        ingress=list(found["ingress"]),
        permissions={role: list(lines) for role, lines in found["permissions"].items()},
    )
    for name in _MARKUP:
        # Our own render's HTML, read back from our own 0700 folder.
        data[name] = None if data[name] is None else Markup(data[name])  # noqa: S704
    return data
