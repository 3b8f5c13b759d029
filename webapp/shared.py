"""What the worker processes must agree on, kept in one SQLite file: rate-limit counters
and the session records (signing out ends a session in every worker). No server.

The file lives in ``STATE_DIR`` (``PUSHSTACK_STATE_DIR``; by default a folder of this
user's in the temporary directory, mode 0700), named after a digest of the secret key:
the workers of one wizard share it, another wizard on the machine has its own.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from flask import current_app

SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (
    key TEXT NOT NULL, window INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (key, window)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started REAL NOT NULL, seen REAL NOT NULL, ended INTEGER NOT NULL
) WITHOUT ROWID;
"""
_local = threading.local()


def default_dir() -> str:
    return str(Path(tempfile.gettempdir()) / f"pushstack-{os.getuid()}")


def path() -> Path:
    config = current_app.config
    secret = config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    digest = hashlib.sha256(b"pushstack state " + secret).hexdigest()[:20]
    return Path(config.get("STATE_DIR") or default_dir()) / f"state-{digest}.sqlite3"


def connection() -> sqlite3.Connection:
    """This thread's connection to the shared file, made (with its folder) on first use."""
    where = path()
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    db = connections.get(where)
    if db is None:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(where, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        connections[where] = db
    return db


WINDOW_SECONDS = 60  # every limit counts per minute


def hit(key: str, now: float | None = None) -> int:
    """Count one event of ``key`` in the current minute; the count so far, this one included."""
    window = int((time.time() if now is None else now) // WINDOW_SECONDS)
    db = connection()
    (count,) = db.execute(
        "INSERT INTO hits (key, window, count) VALUES (?, ?, 1) "
        "ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count",
        (key, window),
    ).fetchone()
    if count == 1 and random.random() < 0.02:  # noqa: S311 (when to tidy, not a secret)
        db.execute("DELETE FROM hits WHERE window < ?", (window - 1,))
    return count
