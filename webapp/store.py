"""Validated options carried by the browser, sealed: no state kept in any process.

The options of a submitted form (the crypto key included) travel in the
preview URL as a sealed token: encrypted and authenticated (AES-GCM) with a
key derived from the application's SECRET_KEY and the browser session's
random id (kept in the HttpOnly session cookie), with an expiry, and padded.
So the URL alone opens nothing in another browser, not even with the secret
key; the cookie alone opens nothing at all; nobody can read or change what a
token holds; and every worker process sharing PUSHSTACK_SECRET_KEY opens what
another sealed for the same browser. The same seal keeps a typed key across a form
error in a hidden field (``seal_key``/``unseal_key``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import os
import re
import secrets
import struct
import time
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, g, request, session

from pushstack.options import Options

SESSION_ID = "sid"
_CSRF_FIELD = "csrf_token"  # Flask-WTF's key in the session
_VERSION = b"\x02"  # 2: a key per session, padded
_NONCE_BYTES = 12
_HEADER = struct.Struct("!dH")  # expiry (Unix time), length of the crypto key
_OPTION_FIELDS = {f.name: f for f in dataclasses.fields(Options)}
# gunicorn reads request lines of at most 8,190 characters ("GET /preview/<token>/
# parameters.json HTTP/1.1"): a longer token would make a preview nobody can open.
MAX_TOKEN_LENGTH = 8000
# What ``seal`` writes: URL-safe base64 without padding. The decoder of the standard
# library skips any other character, so a token with a "." in it still opened (and its
# tail escaped the logs' redaction): anything else is refused before decoding.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_FROM_URLSAFE = str.maketrans("-_", "+/")
# Sealed plaintexts are padded to a multiple of this (issue 16 item 10): the length of a
# preview's address no longer tells how many crypto keys it carries, within a bucket.
PAD_BYTES = 512
_LENGTH = struct.Struct("!I")
# The largest padded plaintext whose token still fits MAX_TOKEN_LENGTH: past it, no padding.
_MAX_PADDED = MAX_TOKEN_LENGTH * 3 // 4 - 1 - _NONCE_BYTES - 16


def init_app(app) -> None:
    app.before_request(_start_session)


def _start_session() -> None:
    """Give every browser session its own random id; a new session gets a new CSRF token."""
    if request.endpoint == "static" or session.get(SESSION_ID):
        return
    start_session()


def start_session() -> None:
    """A fresh session id, and no CSRF token of an earlier session (Flask-WTF makes a new one)."""
    session[SESSION_ID] = secrets.token_urlsafe(18)
    session.pop(_CSRF_FIELD, None)
    g.session_started = True  # this request brought no session (webapp.limits: by address)


def session_id() -> str:
    if not session.get(SESSION_ID):
        start_session()
    return session[SESSION_ID]


# The interface of the views: options in, an id for the URL out, and back.


def remember(options: Options) -> str:
    """Seal the options for this browser session; the result goes into the preview URL."""
    key = options.crypto_key.encode("utf-8")
    values = {
        name: value
        for name, value in dataclasses.asdict(options).items()
        if name != "crypto_key" and value != _OPTION_FIELDS[name].default
    }
    # Compressed apart from the key, so that the token's length says nothing about the key.
    rest = zlib.compress(json.dumps(values, separators=(",", ":")).encode("utf-8"))
    return seal("preview", _HEADER.pack(_expiry(), len(key)) + key + rest)


def recall(preview_id: str) -> Options | None:
    """The options sealed by ``remember`` in this browser session, unless expired or forged."""
    plain = unseal("preview", preview_id)
    if plain is None or len(plain) < _HEADER.size:
        return None
    expires, key_length = _HEADER.unpack_from(plain)
    if time.time() >= expires:
        return None
    start = _HEADER.size
    key = plain[start : start + key_length].decode("utf-8")
    try:
        values = json.loads(zlib.decompress(plain[start + key_length :]))
        return Options(
            crypto_key=key, **{name: _field_value(name, v) for name, v in values.items()}
        )
    except (zlib.error, ValueError, TypeError, KeyError):
        return None  # sealed by an older version whose options no longer fit: ask again


def seal_key(crypto_key: str) -> str:
    """The crypto key, sealed for a hidden form field of this session: never in clear in a page."""
    return seal("form-key", _HEADER.pack(_expiry(), 0) + crypto_key.encode("utf-8"))


def unseal_key(token: str | None) -> str | None:
    """The key sealed by ``seal_key`` in this session, unless expired or forged."""
    plain = unseal("form-key", token or "")
    if plain is None or len(plain) < _HEADER.size:
        return None
    expires, _ = _HEADER.unpack_from(plain)
    if time.time() >= expires:
        return None
    return plain[_HEADER.size :].decode("utf-8") or None


def _field_value(name: str, value: object) -> object:
    if isinstance(value, list) and isinstance(_OPTION_FIELDS[name].default, tuple):
        return tuple(value)
    return value


def _expiry() -> float:
    return time.time() + float(current_app.config["PREVIEW_TTL_SECONDS"])


# The seal itself: AES-GCM under a key derived from SECRET_KEY, bound to the session.


def seal(purpose: str, payload: bytes) -> str:
    """``payload`` encrypted and authenticated for ``purpose`` in this browser session,
    padded to a multiple of ``PAD_BYTES`` (its length says little of what it holds)."""
    nonce = os.urandom(_NONCE_BYTES)
    sized = _LENGTH.pack(len(payload)) + payload
    padded_length = max(len(sized), min(-(-len(sized) // PAD_BYTES) * PAD_BYTES, _MAX_PADDED))
    sized += bytes(padded_length - len(sized))
    sealed = _aead(session_id()).encrypt(nonce, sized, _associated_data(purpose))
    return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode("ascii").rstrip("=")


def unseal(purpose: str, token: str) -> bytes | None:
    """What ``seal`` sealed for ``purpose`` in this session; None for anything else."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None  # strict: the alphabet seal writes, nothing else (issue 16 item 6)
    try:
        raw = base64.b64decode(
            token.translate(_FROM_URLSAFE) + "=" * (-len(token) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 1 + _NONCE_BYTES + 16 or raw[:1] != _VERSION:
        return None
    nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
    if not session.get(SESSION_ID):
        return None  # no session, nothing of it to open
    try:
        sized = _aead(session_id()).decrypt(nonce, sealed, _associated_data(purpose))
    except InvalidTag:
        return None
    if len(sized) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack_from(sized)
    return sized[_LENGTH.size : _LENGTH.size + length]


def _associated_data(purpose: str) -> bytes:
    return f"pushstack {purpose} {session_id()}".encode()


def _aead(session: str) -> AESGCM:
    """The cipher of one browser session: its key is derived from SECRET_KEY *and* the
    session's random id (in the HttpOnly cookie), so the secret key and a logged
    address without the cookie decrypt nothing (issue 16 item 7)."""
    secret = current_app.config["SECRET_KEY"]
    return _session_cipher(
        secret.encode("utf-8") if isinstance(secret, str) else bytes(secret), session
    )


@functools.lru_cache(maxsize=1024)
def _session_cipher(secret: bytes, session: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"pushstack session " + session.encode("utf-8"),
        info=b"sealed options v2",
    ).derive(secret)
    return AESGCM(derived)


# The last verification of a stack (webapp.verify), kept for this browser session only.

_RESULTS = "verified"
MAX_KEPT_RESULTS = 4  # a round trip ~1 KB sealed, a probe ~0.4 KB; the session is a cookie
_MAX_KEPT_CHARACTERS = 3000  # of sealed results, leaving room for the rest of the 4 KB


def keep_result(stack_key: str, result: dict) -> None:
    """Seal ``result`` (JSON) as the last one of ``stack_key``; the oldest other goes first."""
    packed = zlib.compress(json.dumps(result, separators=(",", ":")).encode("utf-8"), 9)
    kept = [pair for pair in session.get(_RESULTS) or [] if pair[0] != stack_key]
    kept.append([stack_key, seal(f"verified {stack_key}", packed)])
    kept = kept[-MAX_KEPT_RESULTS:]
    while len(kept) > 1 and sum(len(token) for _, token in kept) > _MAX_KEPT_CHARACTERS:
        kept.pop(0)
    session[_RESULTS] = kept


def last_result(stack_key: str) -> dict | None:
    """What ``keep_result`` kept for ``stack_key`` in this session, unless forged."""
    for key, token in session.get(_RESULTS) or []:
        if key == stack_key:
            plain = unseal(f"verified {stack_key}", str(token))
            try:
                return json.loads(zlib.decompress(plain)) if plain else None
            except (zlib.error, ValueError):
                return None
    return None
