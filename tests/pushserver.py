"""A push server for the tests ONLY: a stand-in for a stack's connection and endpoint nodes.

It is not part of pushstack and runs nowhere but in the test suite, on
127.0.0.1. It speaks the WebPush protocol as both engines do, read from
autopush-rs 1.83.1 (``tests/integration/push_test_client.py`` and
``test_integration_all_rust.py``) and autopush 1.57.0 (``autopush/websocket.py``,
``autopush/web/webpush.py``, ``autopush/utils.py``):

- WebSocket (``ws_url``): ``hello`` must say ``use_webpush`` (else status 401)
  and gets ``{"messageType": "hello", "status": 200, "uaid", "use_webpush": true}``;
  a known ``uaid`` keeps it and receives the messages stored for it, an
  unknown one gets a new uaid. ``register`` needs a UUID ``channelID``, answers
  ``channelID``, ``pushEndpoint``, ``status`` 200 and remembers the ``key``.
  ``ack`` deletes a stored message; ``unregister`` answers status 200.
- Endpoint (``endpoint_url``): ``POST /wpush/v2/<token>``: 404 for an unknown
  token, 410 for an unregistered channel, 400 without a TTL header or with
  another Content-Encoding than aes128gcm, 413 above ``max_data`` bytes, 401
  without a VAPID header (``vapid t=<JWT>,k=<key>``) whose ES256 signature,
  audience and expiry are valid, 403 when ``k`` is not the key given on
  register; else 201 with ``Location`` and ``TTL``. The audience is checked as
  autoendpoint 1.83.1 checks it (``validate_vapid_jwt``: jsonwebtoken's audience
  set to its endpoint URL's ``origin().ascii_serialization()``): the exact string
  of its own endpoint URL's origin after URL parsing, host in lower case, no
  default port, whatever the Host header or the case of the URLs it hands out
  (``host_name`` may have capitals, like a load balancer's DNS name). autopush
  1.57.0 does not check ``aud`` at all (``extract_jwt``: signature and ``exp``).
- A notification is ``{"messageType": "notification", "channelID", "version",
  "data": <the body, base64url without padding>, "headers": {"encoding":
  "aes128gcm"}}``: the body is forwarded as received; nothing is decrypted.
  Every message is stored until acked, and sent at once to a connected socket.

``Behaviour`` tells it to misbehave, one way per field.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

MAX_DATA = 4096  # autopush 1.57.0's default max_data


@dataclass
class Behaviour:
    hello_status: int = 200  # anything else: the hello reply's status, then the socket closes
    register_status: int = 200  # anything else: the register reply's status
    endpoint_status: int | None = None  # answer every push with this status
    deliver: bool = True  # False: accept pushes (201) and never send them
    corrupt: bool = False  # change one byte of the body before forwarding it
    forget_uaid: bool = False  # a reconnecting uaid is unknown: a new one is given
    ignore_ack: bool = False  # an acked message stays stored (and is sent again)
    store: bool = True  # False: a push for a closed socket is accepted (201) and dropped
    endpoint_base: str | None = None  # hand out endpoints under another URL


@dataclass
class _User:
    uaid: str
    channels: dict[str, str | None] = field(default_factory=dict)  # channel id -> key
    stored: dict[str, dict] = field(default_factory=dict)  # version -> notification
    socket: web.WebSocketResponse | None = None


class PushServer:
    """Start with ``with PushServer() as server:``; ``ws_url`` and ``endpoint_url`` then work."""

    def __init__(self, *, behaviour: Behaviour | None = None, tls: ssl.SSLContext | None = None,
                 max_data: int = MAX_DATA, host_name: str = "127.0.0.1"):  # fmt: skip
        self.behaviour = behaviour or Behaviour()
        self.host_name = host_name  # in its URLs (it listens on 127.0.0.1 whatever this is)
        self.max_data = max_data
        self._tls = tls
        self._users: dict[str, _User] = {}
        self._tokens: dict[str, tuple[str, str]] = {}  # token -> (uaid, channel id)
        self.pushes: list[int] = []  # the status of every push answered
        self.acked: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []
        self.ws_url = self.endpoint_url = ""

    def __enter__(self) -> PushServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        ws_app, endpoint_app = web.Application(), web.Application()
        ws_app.router.add_get("/", self._websocket)
        endpoint_app.router.add_post("/wpush/v2/{token}", self._push)
        ports = []
        for app in (ws_app, endpoint_app):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._tls)
            await site.start()
            self._runners.append(runner)
            ports.append(site._server.sockets[0].getsockname()[1])
        secure = self._tls is not None
        self.ws_url = f"{'wss' if secure else 'ws'}://{self.host_name}:{ports[0]}/"
        self.endpoint_url = f"{'https' if secure else 'http'}://{self.host_name}:{ports[1]}"

    async def _stop(self) -> None:
        for user in self._users.values():
            if user.socket is not None:
                await user.socket.close()
        for runner in self._runners:
            await runner.cleanup()

    # The connection node.

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        user: _User | None = None
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                kind = data.get("messageType")
                if user is None:
                    if kind != "hello":
                        break
                    user = await self._hello(socket, data)
                    if user is None:
                        break
                elif kind == "register":
                    await self._register(socket, user, data)
                elif kind == "unregister":
                    user.channels.pop(data.get("channelID"), None)
                    await socket.send_json({**data, "status": 200})
                elif kind == "ack" and not self.behaviour.ignore_ack:
                    for update in data.get("updates") or []:
                        if user.stored.pop(update.get("version"), None) is not None:
                            self.acked.append(update["version"])
        finally:
            if user is not None and user.socket is socket:
                user.socket = None
        await socket.close()
        return socket

    async def _hello(self, socket, data) -> _User | None:
        if not data.get("use_webpush"):
            await socket.send_json({"messageType": "hello", "status": 401,
                                    "reason": "Simplepush not supported"})  # fmt: skip
            return None
        if self.behaviour.hello_status != 200:
            await socket.send_json({"messageType": "hello", "status": self.behaviour.hello_status,
                                    "reason": "told to fail"})  # fmt: skip
            return None
        uaid = data.get("uaid")
        if uaid not in self._users or self.behaviour.forget_uaid:
            uaid = uuid.uuid4().hex
            self._users[uaid] = _User(uaid)
        user = self._users[uaid]
        user.socket = socket
        await socket.send_json({"messageType": "hello", "status": 200, "uaid": uaid,
                                "use_webpush": True, "broadcasts": {}})  # fmt: skip
        for notification in list(user.stored.values()):
            await socket.send_json(notification)
        return user

    async def _register(self, socket, user: _User, data) -> None:
        channel_id = data.get("channelID")
        try:
            valid = str(uuid.UUID(channel_id)) == channel_id
        except (TypeError, ValueError):
            valid = False
        if not valid:
            await socket.send_json({"messageType": "register", "status": 401,
                                    "reason": "Invalid UUID specified"})  # fmt: skip
            return
        if self.behaviour.register_status != 200:
            await socket.send_json({"messageType": "register", "channelID": channel_id,
                                    "status": self.behaviour.register_status,
                                    "reason": "An unexpected server error occurred"})  # fmt: skip
            return
        user.channels[channel_id] = data.get("key")
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (user.uaid, channel_id)
        base = self.behaviour.endpoint_base or self.endpoint_url
        await socket.send_json({"messageType": "register", "channelID": channel_id,
                                "pushEndpoint": f"{base}/wpush/v2/{token}",
                                "status": 200})  # fmt: skip

    # The endpoint node.

    async def _push(self, request: web.Request) -> web.Response:
        response = await self._answer(request)
        self.pushes.append(response.status)
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        if self.behaviour.endpoint_status is not None:
            return _error(self.behaviour.endpoint_status, 999, "told to fail")
        found = self._tokens.get(request.match_info["token"])
        if found is None:
            return _error(404, 102, "invalid token")
        uaid, channel_id = found
        user = self._users.get(uaid)
        if user is None or channel_id not in user.channels:
            return _error(410, 106, "No such subscription")
        ttl = request.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return _error(400, 111, "Missing TTL Header")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return _error(400, 110, "Unknown Content-Encoding")
        body = await request.read()
        if len(body) > self.max_data:
            return _error(413, 104, f"Data payload must be smaller than {self.max_data}")
        problem = _vapid_problem(request, user.channels[channel_id], _origin(self.endpoint_url))
        if problem:
            return _error(problem[0], 109, problem[1])
        if self.behaviour.corrupt:
            body = body[:-1] + bytes([body[-1] ^ 1])
        version = secrets.token_urlsafe(16)
        notification = {"messageType": "notification", "channelID": channel_id,
                        "version": version, "ttl": int(ttl),
                        "data": base64.urlsafe_b64encode(body).decode().rstrip("="),
                        "headers": {"encoding": "aes128gcm"}}  # fmt: skip
        if self.behaviour.deliver and (self.behaviour.store or user.socket is not None):
            user.stored[version] = notification
            if user.socket is not None:
                await user.socket.send_json(notification)
        location = f"{self.endpoint_url}/m/{version}"
        return web.Response(status=201, headers={"Location": location, "TTL": ttl})


def _error(status: int, errno: int, message: str) -> web.Response:
    body = {"code": status, "errno": errno, "error": web.HTTPException.__name__,
            "message": message}  # fmt: skip
    return web.json_response(body, status=status)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _origin(url: str) -> str:
    """A URL's origin as the url crate serializes it (WHATWG URL: scheme and host lowered,
    the scheme's default port left out); the stand-in's URLs are ASCII host names or IPv4."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{parts.hostname}{port}"


def _vapid_problem(
    request: web.Request, registered_key: str | None, audience: str
) -> tuple[int, str] | None:
    """As the engines check ``Authorization: vapid t=<JWT>,k=<key>`` (RFC 8292); ``aud``
    must be ``audience`` exactly, as autoendpoint's is its own endpoint URL's origin."""
    header = request.headers.get("Authorization", "")
    scheme, _, rest = header.partition(" ")
    parts = dict(item.split("=", 1) for item in rest.replace(" ", "").split(",") if "=" in item)
    if scheme.lower() != "vapid" or "t" not in parts or "k" not in parts:
        return 401, "Missing or invalid VAPID Authorization header"
    if registered_key and parts["k"].rstrip("=") != registered_key.rstrip("="):
        return 403, "Key mismatch"
    try:
        header_part, claims_part, signature = parts["t"].split(".")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64(parts["k"]))
        raw = _b64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        key.verify(der, f"{header_part}.{claims_part}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_b64(claims_part))
    except (ValueError, InvalidSignature):
        return 401, "Invalid VAPID signature"
    if claims.get("aud") != audience:
        return 401, f"Invalid aud {claims.get('aud')!r}, expected {audience}"
    if not time.time() < claims.get("exp", 0) <= time.time() + 86400:
        return 401, "Invalid exp"
    return None


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (a host name or an IP address): (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


if __name__ == "__main__":
    # For benchmarks/probe.py: serve on 127.0.0.1 in a process of its own, print the two
    # URLs as JSON, stop when standard input closes.
    import sys

    with PushServer(max_data=MAX_DATA) as server:
        print(json.dumps({"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}))
        sys.stdout.flush()
        sys.stdin.read()
