"""Where a verification may send: the stack's own outputs, and nothing else.

The WebSocket URL and the endpoint URL come from the stack's outputs
(``WebSocketURL``, ``EndpointURL``, see ``pushstack.template.outputs``), and so does
the engine, for the advice on a failure: only autopush-rs stacks have the
``StoreId`` output (their Valkey store), only autopush 1.57.0 stacks the
``RouterTableName`` one (their DynamoDB tables); the
push endpoint the server hands out on register must lie under the endpoint
URL, else nothing is sent to it. TLS is always verified (system trust store
and certifi's bundle; tests add their own authority with ``ca_file``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi

from pushstack.options import LEGACY, RS

WEBSOCKET_OUTPUT = "WebSocketURL"
ENDPOINT_OUTPUT = "EndpointURL"
# An output only one engine's stacks have -> that engine.
ENGINE_OUTPUTS = {"StoreId": RS, "RouterTableName": LEGACY}
_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


class TargetError(Exception):
    """The stack's outputs do not name a push service this can verify."""


@dataclass(frozen=True)
class PushTargets:
    websocket_url: str
    endpoint_url: str
    engine: str = ""  # RS or LEGACY; "" when the outputs do not say (advice names both)

    @property
    def secure(self) -> bool:
        return self.websocket_url.startswith("wss://")

    def owns(self, push_endpoint: str) -> bool:
        """True when ``push_endpoint`` is on the stack's endpoint host (scheme, host, port)."""
        return _origin(push_endpoint) == _origin(self.endpoint_url)


def from_outputs(outputs: dict[str, str]) -> PushTargets:
    """The push service's URLs from a stack's outputs, or ``TargetError`` saying what lacks."""
    websocket_url = (outputs.get(WEBSOCKET_OUTPUT) or "").strip()
    endpoint_url = (outputs.get(ENDPOINT_OUTPUT) or "").strip()
    missing = [
        name
        for name, value in ((WEBSOCKET_OUTPUT, websocket_url), (ENDPOINT_OUTPUT, endpoint_url))
        if not value
    ]
    if missing:
        raise TargetError(
            f"The stack has no {' and no '.join(missing)} output: it is not complete, "
            "or it is not a push stack made by pushstack."
        )
    if urlsplit(websocket_url).scheme not in ("ws", "wss") or not urlsplit(websocket_url).hostname:
        raise TargetError(f"{WEBSOCKET_OUTPUT} is not a ws:// or wss:// URL: {websocket_url}")
    if (
        urlsplit(endpoint_url).scheme not in ("http", "https")
        or not urlsplit(endpoint_url).hostname
    ):
        raise TargetError(f"{ENDPOINT_OUTPUT} is not an http:// or https:// URL: {endpoint_url}")
    return PushTargets(websocket_url, endpoint_url, engine_of(outputs))


def engine_of(outputs: dict[str, str]) -> str:
    """The stack's engine as its outputs show it, or "" when they show neither."""
    found = {engine for name, engine in ENGINE_OUTPUTS.items() if outputs.get(name)}
    return found.pop() if len(found) == 1 else ""


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0))


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificate and host name checked; ``ca_file`` adds an authority (tests)."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
