"""Validated options kept between the preview page and its downloads.

The parameters file holds the crypto key, which must never be written into a
page, a URL or the (signed, not encrypted) session cookie. So the options of a
submitted form wait here, in this process's memory, under a random id, for a
short while. It is a cache of one user's unsaved form: losing it (restart,
expiry, another process) only asks the user to submit the form again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

from flask import current_app, session

from pushstack.options import Options

_SESSION_KEY = "previews"
_SESSION_MAX_IDS = 20


class PreviewStore:
    """Options by random id; entries expire, and the oldest go first when full."""

    def __init__(self, ttl_seconds: float, max_entries: int):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Options]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, options: Options) -> str:
        preview_id = secrets.token_urlsafe(24)
        with self._lock:
            self._drop_expired()
            self._entries[preview_id] = (time.monotonic() + self.ttl_seconds, options)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return preview_id

    def get(self, preview_id: str) -> Options | None:
        with self._lock:
            self._drop_expired()
            entry = self._entries.get(preview_id)
        return entry[1] if entry else None

    def _drop_expired(self) -> None:
        now = time.monotonic()
        while self._entries:
            first_id, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[first_id]


def init_app(app) -> None:
    app.extensions["pushstack_previews"] = PreviewStore(
        app.config["PREVIEW_TTL_SECONDS"], app.config["PREVIEW_MAX_ENTRIES"]
    )


def get_store() -> PreviewStore:
    return current_app.extensions["pushstack_previews"]


def remember(options: Options) -> str:
    """Keep the options for this browser session; the id goes into the preview URL."""
    preview_id = get_store().put(options)
    # The id alone is not enough: a leaked URL opens nothing in another browser.
    session[_SESSION_KEY] = [*session.get(_SESSION_KEY, []), preview_id][-_SESSION_MAX_IDS:]
    return preview_id


def recall(preview_id: str) -> Options | None:
    """The options of a preview this browser session made, unless expired."""
    if preview_id not in session.get(_SESSION_KEY, []):
        return None
    return get_store().get(preview_id)
