"""The application server's part: an encrypted push with a TTL and a VAPID header.

pywebpush encrypts (aes128gcm, RFC 8291) and posts through an aiohttp session
whose TLS context verifies the certificate. The endpoint's answer is read as
both engines give it: 201 Created (with a Location); otherwise a JSON body
with ``errno`` and ``message``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp
from pywebpush import WebPusher

from pushstack.verify.keys import ENCODING, Subscriber, VapidKey

ACCEPTED = (201, 202)
# What each refusal means, in the words of the engines' endpoint code.
REFUSALS = {
    400: "the request was refused as malformed",
    401: "the VAPID signature was refused",
    403: "the VAPID key is not the one the subscription was registered with",
    404: "the endpoint is unknown (its token does not decrypt with the endpoint nodes' key)",
    410: "the subscription is gone (the store does not know the channel or the uaid)",
    413: "the payload is too large",
    429: "too many requests",
    500: "an error inside the endpoint node",
    502: "the load balancer got no valid answer from an endpoint node",
    503: "the endpoint node is overloaded or its store unreachable",
    504: "the load balancer timed out waiting for an endpoint node",
}


@dataclass(frozen=True)
class SendResult:
    status: int
    message: str  # the body's message, when the server gave one

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED

    def describe(self) -> str:
        words = REFUSALS.get(self.status, "an unexpected answer")
        text = f"HTTP {self.status}: {words}"
        return text + (f"; the server said: {self.message}" if self.message else "")


def http_session(ssl, timeout: float, connections: int = 100) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=ssl, limit=connections)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": "pushstack-verify"},
    )


async def send_push(
    session: aiohttp.ClientSession,
    subscriber: Subscriber,
    vapid: VapidKey,
    endpoint: str,
    payload: bytes,
    ttl: int,
) -> SendResult:
    pusher = WebPusher(subscriber.subscription(endpoint), aiohttp_session=session)
    response = await pusher.send_async(
        payload,
        headers=vapid.headers(endpoint),
        ttl=ttl,
        content_encoding=ENCODING,
        timeout=session.timeout,
    )
    text = await response.text()
    return SendResult(response.status, "" if response.status in ACCEPTED else _message(text))


def _message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or ""
        errno = body.get("errno")
        return f"{message} (errno {errno})" if errno is not None else str(message)
    return text.strip()[:200]
