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


def check_dir(folder: Path) -> None:
    """Make the folder (mode 0700), and refuse one another user made or can write to: its
    file decides who is signed in (another user of a shared /tmp could create it first)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = folder.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise RuntimeError(
            f"{folder} (the wizard's shared state) belongs to another user or others may "
            "write to it: set PUSHSTACK_STATE_DIR to a folder only you can write to."
        )


def connection() -> sqlite3.Connection:
    """This thread's connection to the shared file, made (with its folder) on first use."""
    where = path()
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    db = connections.get(where)
    if db is None:
        check_dir(where.parent)
        db = sqlite3.connect(where, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        connections[where] = db
    return db


WINDOW_SECONDS = 60  # every limit counts per minute


def _now() -> float:
    return time.time()


def digest(value: str) -> str:
    """What the file keeps of a session id or address: never the value itself (a session
    id is part of what opens a sealed preview)."""
    return hashlib.sha256(b"pushstack " + value.encode()).hexdigest()[:32]


def hit(key: str, now: float | None = None) -> int:
    """Count one event of ``key`` in the current minute; the count so far, this one included."""
    window = int((_now() if now is None else now) // WINDOW_SECONDS)
    db = connection()
    (count,) = db.execute(
        "INSERT INTO hits (key, window, count) VALUES (?, ?, 1) "
        "ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count",
        (digest(key), window),
    ).fetchone()
    if count == 1 and random.random() < 0.02:  # noqa: S311 (when to tidy, not a secret)
        db.execute("DELETE FROM hits WHERE window < ?", (window - 1,))
    return count


def count(key: str, now: float | None = None) -> int:
    """How many events of ``key`` the current minute has had."""
    window = int((_now() if now is None else now) // WINDOW_SECONDS)
    row = (
        connection()
        .execute("SELECT count FROM hits WHERE key = ? AND window = ?", (digest(key), window))
        .fetchone()
    )
    return row[0] if row else 0


# Session records: signing out ends a session everywhere; idle and absolute lifetimes.


def start_session(session_id: str) -> None:
    now = _now()
    connection().execute(
        "INSERT OR REPLACE INTO sessions (id, started, seen, ended) VALUES (?, ?, ?, 0)",
        (digest(session_id), now, now),
    )
    if random.random() < 0.05:  # noqa: S311 (when to tidy, not a secret)
        lifetime = float(current_app.config["SESSION_LIFETIME_SECONDS"])
        connection().execute("DELETE FROM sessions WHERE started < ?", (now - lifetime,))


def session_alive(session_id: str) -> bool:
    """Whether a signed-in session is still valid: not signed out, used within
    SESSION_IDLE_SECONDS, started within SESSION_LIFETIME_SECONDS. Marks it used."""
    config = current_app.config
    now = _now()
    db = connection()
    row = db.execute(
        "SELECT started, seen, ended FROM sessions WHERE id = ?", (digest(session_id),)
    ).fetchone()
    if row is None:
        return False
    started, seen, ended = row
    if ended or now - seen > float(config["SESSION_IDLE_SECONDS"]):
        return False
    if now - started > float(config["SESSION_LIFETIME_SECONDS"]):
        return False
    if now - seen > 60:  # one write a minute at most per session
        db.execute("UPDATE sessions SET seen = ? WHERE id = ?", (now, digest(session_id)))
    return True


def end_session(session_id: str) -> None:
    connection().execute("UPDATE sessions SET ended = 1 WHERE id = ?", (digest(session_id),))
