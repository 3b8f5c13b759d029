"""Both ends' keys for one verification: the subscriber's (the browser's part of
RFC 8291) and the application server's VAPID key (RFC 8292), fresh each time.

The encryption is pywebpush's and http-ece's, the signature py-vapid's: no
cryptography of our own beyond generating a key pair.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from urllib.parse import urlsplit

import http_ece
import py_vapid
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ENCODING = "aes128gcm"
VAPID_SUBJECT = "mailto:verify@pushstack.invalid"
VAPID_LIFETIME_SECONDS = 3600  # both engines refuse a token valid for more than 24 h


class DecryptError(Exception):
    """A notification's data is not what this subscriber's keys decrypt."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(private_key) -> bytes:
    return private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class Subscriber:
    """What a browser keeps for one subscription: an ECDH key pair and an auth secret."""

    def __init__(self) -> None:
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self._auth_secret = os.urandom(16)

    def subscription(self, endpoint: str) -> dict:
        """The subscription an application server is given (PushSubscription.toJSON())."""
        return {
            "endpoint": endpoint,
            "keys": {
                "p256dh": b64url(_raw_public(self._private_key)),
                "auth": b64url(self._auth_secret),
            },
        }

    def decrypt(self, notification: dict) -> bytes:
        """The plain payload of a ``notification`` message, or ``DecryptError``."""
        data = notification.get("data")
        if not data:
            raise DecryptError("the notification carries no data")
        encoding = (notification.get("headers") or {}).get("encoding", ENCODING)
        if encoding != ENCODING:
            raise DecryptError(f"the notification is encoded {encoding!r}, not {ENCODING}")
        try:
            body = b64url_decode(data)
            return http_ece.decrypt(
                body,
                private_key=self._private_key,
                auth_secret=self._auth_secret,
                version=ENCODING,
            )
        except (binascii.Error, ValueError, http_ece.ECEException) as exc:
            raise DecryptError(
                f"it does not decrypt with the subscription's keys ({exc})"
            ) from None
        except InvalidTag:  # the authentication tag does not match: changed or other keys
            raise DecryptError(
                "it does not decrypt with the subscription's keys (authentication failed)"
            ) from None


class VapidKey:
    """A fresh application server key: the register's ``key`` and the VAPID header."""

    def __init__(self) -> None:
        self._vapid = py_vapid.Vapid02()
        self._vapid.generate_keys()

    @property
    def application_server_key(self) -> str:
        return b64url(
            self._vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        )

    def headers(self, endpoint: str) -> dict[str, str]:
        """``Authorization: vapid t=<JWT>,k=<key>`` for the endpoint's origin."""
        claims = {
            "sub": VAPID_SUBJECT,
            "aud": audience(endpoint),
            "exp": int(time.time()) + VAPID_LIFETIME_SECONDS,
        }
        return self._vapid.sign(claims)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def audience(endpoint: str) -> str:
    """The VAPID ``aud`` of a push endpoint: its origin as the URL standard serializes it
    (scheme and host in lower case, no default port, no user or path), as browsers do.

    autoendpoint (autopush-rs 1.83.1) accepts only the exact origin of its own endpoint
    URL after URL parsing, which lowercases the host (``Url::origin().ascii_serialization()``
    as jsonwebtoken's audience, compared as a string); load balancers' DNS names as
    CloudFormation makes them have capitals, and autoconnect hands out endpoints with the
    host name as configured. autopush 1.57.0 does not check ``aud``.
    """
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""  # lower case already
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    return f"{scheme}://{host}"
