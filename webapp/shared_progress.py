"""Stack progress shared by the wizard's worker processes through small files.

Each gunicorn worker keeps its own memory cache (``webapp.cloud.SharedCache``);
without this, each asked AWS for a watched stack's events once per interval,
so the cost grew with the number of workers. Here the first process to need a
stack's progress takes the stack's file lock, asks AWS and writes the answer;
the others wait on the lock, then read the file while it is fresh. So one stack
costs at most one fetch per interval for the whole wizard, however many
processes and viewers, and no server is needed (as cfn-lint's shared results).

A file holds what the JSON API shows (status, events, outputs; never a
parameter value), named by a hash of the target, region and stack, in a folder
only this user can open.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from pushstack.cloud import CloudError, Event, Failure, Progress
from webapp.limits import RATE_LIMITED


def encode(progress: Progress) -> dict:
    data = asdict(progress)
    data["events"] = [
        {**event, "timestamp": event["timestamp"].isoformat()} for event in data["events"]
    ]
    return data


def decode(data: dict) -> Progress:
    return Progress(
        **{
            **data,
            "events": tuple(
                Event(**{**event, "timestamp": datetime.fromisoformat(event["timestamp"])})
                for event in data["events"]
            ),
            "failure": Failure(**data["failure"]) if data["failure"] else None,
            "blocking": tuple(data["blocking"]),
            "not_emulated": tuple(data["not_emulated"]),
        }
    )


class ProgressFiles:
    """Progress by key in ``folder``: fetched once per lifetime by whichever process asks first."""

    def __init__(self, folder: str | Path, clock=time.time, *, encode=encode, decode=decode):
        self.folder = Path(folder)
        self._clock = clock
        # How a value is written and read back (a Progress by default; any JSON value).
        self._encode, self._decode = encode, decode
        self._usable: bool | None = None

    def usable(self) -> bool:
        """The folder exists (made 0700) and belongs to this user: trust no other's files."""
        if self._usable is None:
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = self.folder.stat()
                self._usable = info.st_uid == os.getuid() and not info.st_mode & 0o077
            except OSError:
                self._usable = False
        return self._usable

    def _path(self, key) -> Path:
        return self.folder / (hashlib.sha256(json.dumps(key).encode()).hexdigest() + ".json")

    def fetch(
        self, key, fetch, lifetime_of
    ) -> tuple[Progress | None, CloudError | None, float, float]:
        """(value, error, age in seconds, lifetime): the shared file's while it is fresh, else
        ``fetch()``'s, written for the other processes. ``lifetime_of(value or error)``
        says how long an answer stays fresh."""
        path = self._path(key)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process asks AWS; the others wait, then read
            now = self._clock()
            stale = None
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                data = json.loads(path.read_text())
                age = now - data["fetched"]
                if 0 <= age < data["lifetime"]:
                    if data.get("error"):
                        return None, CloudError(**data["error"]), age, data["lifetime"]
                    return self._decode(data["value"]), None, age, data["lifetime"]
                if data.get("value"):
                    stale = self._decode(data["value"])
            value = error = None
            try:
                # A fetch that takes it gets the last answer, however old (what is new since).
                value = fetch(stale) if getattr(fetch, "takes_stale", False) else fetch()
            except CloudError as exc:
                if exc.code == RATE_LIMITED:
                    raise  # one client's bound: not written for the other processes
                error = exc
            lifetime = lifetime_of(value if error is None else error)
            record = {"fetched": self._clock(), "lifetime": lifetime}
            if error is not None:
                record["error"] = {
                    "message": error.message,
                    "advice": error.advice,
                    "code": error.code,
                }
            else:
                record["value"] = self._encode(value)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(record))
            partial.replace(path)
            return value, error, 0.0, lifetime

    def forget(self, key) -> None:
        with contextlib.suppress(OSError):
            self._path(key).unlink()
