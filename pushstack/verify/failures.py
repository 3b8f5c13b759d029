"""Why a step failed, in words, and what to check on the stack."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from urllib.parse import urlsplit

import aiohttp
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pushstack.options import LEGACY, RS
from pushstack.verify.connection import Unexpected
from pushstack.verify.keys import DecryptError

log = logging.getLogger(__name__)

# What to check, by the part of the stack a failure points at.
CHECK = {
    "socket": "the connection load balancer's security group (port 443 with a certificate, "
    "80 without) allows this machine, its listener forwards to the connection nodes, and "
    "they are healthy in its target group (the EC2 console, Target groups).",
    "endpoint_socket": "the endpoint load balancer's security group allows this machine, and "
    "the endpoint nodes are healthy in its target group.",
    "tls": "the certificate name: the stack's certificate must cover the host name in the "
    "URL (give --websocket-hostname and --endpoint-hostname with a certificate, and point "
    "them at the load balancers in DNS); an *.elb.amazonaws.com name never matches.",
    "dns": "the host name resolves: the DNS records of the host names point at the load "
    "balancers (or give --hosted-zone-id so that the stack creates them).",
    "endpoint_host": "the endpoint URL the connection nodes hand out (ENDPOINT_SCHEME, "
    "ENDPOINT_HOSTNAME and ENDPOINT_PORT on the nodes; --endpoint-hostname): its scheme, "
    "host and port must be the stack's EndpointURL, the endpoint load balancer's.",
    "vapid": "the VAPID check of the endpoint nodes: a fresh key signed this push and was "
    "given on register; a refusal means the engine reads the header differently (its "
    "version) or the clock of this machine is far off.",
    "too_large": "the payload limit: this push is far under both engines' limit (4,096 "
    "bytes for autopush 1.57.0, 5,630 for autopush-rs); a proxy in front of the endpoint "
    "load balancer, or a lowered max_data setting, refuses it.",
    "decrypt": "the payload was changed on the way: something between the endpoint and "
    "this client (a proxy, a different engine version) altered the encrypted body or its "
    "encoding.",
}


_KEY = (
    "the crypto key: the connection nodes make the endpoint with it (its syntax in the "
    "secret: a Fernet key, several as [k1, k2])"
)
_ROUTER = (
    "the internal router port: endpoint nodes reach connection nodes on port 8081 (the "
    "InternalRouter security group)"
)
# What to check where a failure points at the store, by engine: autopush 1.57.0 keeps
# uaids and messages in DynamoDB tables; autopush-rs (1.83.1) in an ElastiCache for
# Valkey replication group (the StoreId output), reached on port 6379 by both node groups
# (StoreSecurityGroup admits their security groups), its address in the nodes'
# environment (AUTOCONNECT__DB_DSN, AUTOEND__DB_DSN: /etc/push.env, written at boot from
# the store's primary endpoint).
_VALKEY = "the Valkey store (ElastiCache; the StoreId output)"
_REACH = (
    "check that its security group (StoreSecurityGroup) admits port 6379 from the {nodes} "
    "nodes' security group and that {dsn} in their /etc/push.env is the store's primary "
    "endpoint"
)
STORE_CHECK = {
    LEGACY: {
        "hello": "the store: the connection nodes write the uaid into the router table; "
        "check that the router table exists and the nodes' role may write it (the nodes' "
        "log says why).",
        "register": f"{_KEY}, and the store: they record the channel in the message table.",
        "send": "the endpoint nodes: they must read the same crypto key as the connection "
        "nodes (404: the token does not decrypt), and reach the router table (410: uaid or "
        "channel unknown).",
        "deliver": f"{_ROUTER}; the message table for stored messages.",
        "stored": "the store: a push to a closed socket is kept in the message table and "
        "sent on reconnect; check the message table, its TTL attribute (expiry) and the "
        "nodes' rights on it.",
        "reconnect": "the store: the router table must keep the uaid between connections "
        "(a different uaid means it was not found).",
    },
    RS: {
        "hello": f"the store: the connection nodes look the uaid up and record it in "
        f"{_VALKEY}: it must be available (the ElastiCache console); "
        + _REACH.format(nodes="connection", dsn="AUTOCONNECT__DB_DSN")
        + " (the nodes' log says why).",
        "register": f"{_KEY}, and the store: they record the channel in {_VALKEY}; "
        + _REACH.format(nodes="connection", dsn="AUTOCONNECT__DB_DSN")
        + ".",
        "send": "the endpoint nodes: they must read the same crypto key as the connection "
        "nodes (404: the token does not decrypt), and reach the store (410: uaid or channel "
        f"unknown), {_VALKEY}: " + _REACH.format(nodes="endpoint", dsn="AUTOEND__DB_DSN") + ".",
        "deliver": f"{_ROUTER}; {_VALKEY} for stored messages.",
        "stored": f"the store: a push to a closed socket is kept in {_VALKEY} by the "
        "endpoint nodes and read by the connection nodes on reconnect; check that both "
        "reach it (port 6379 from each node group's security group; AUTOEND__DB_DSN and "
        "AUTOCONNECT__DB_DSN name the same primary endpoint) and that it is not out of "
        "memory (its Evictions metric).",
        "reconnect": f"the store: {_VALKEY} must keep the uaid between connections (a "
        "different uaid means it was not found): check that every connection node's "
        "AUTOCONNECT__DB_DSN names the same store and that it was not replaced or emptied "
        "(its events in the ElastiCache console).",
    },
}
ENGINE_NAMES = {LEGACY: "autopush 1.57.0 (DynamoDB tables)", RS: "autopush-rs (Valkey store)"}


def advice(check: str, engine: str = "") -> str:
    """What to check for ``check`` (a key of CHECK or STORE_CHECK) on a stack of ``engine``
    (``pushstack.options.RS`` or ``LEGACY``; "" when the outputs did not say: both)."""
    if check in CHECK:
        return CHECK[check]
    if engine in STORE_CHECK:
        return STORE_CHECK[engine][check]
    return " ".join(
        f"On {ENGINE_NAMES[name]} stacks: {texts[check]}" for name, texts in STORE_CHECK.items()
    )


def got(exc: BaseException, url: str, timeout: float) -> tuple[str, str | None]:
    """What came back, in words, and the check (for ``advice``) the cause points at, or None."""
    host = urlsplit(url).netloc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"nothing within {timeout:g} s", None
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"a certificate this machine does not accept for {host}: {exc.verify_message}", "tls"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = getattr(exc.certificate_error, "verify_message", None) or exc.certificate_error
        return f"a certificate this machine does not accept for {host}: {reason}", "tls"
    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):
        return f"a TLS handshake that failed with {host}: {exc}", "tls"
    if isinstance(exc, socket.gaierror | aiohttp.ClientConnectorDNSError):
        return f"no address for {urlsplit(url).hostname} (the name does not resolve)", "dns"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, aiohttp.ClientConnectorError)
        and isinstance(exc.os_error, ConnectionRefusedError)
    ):
        return f"the connection to {host} was refused (nothing listens there)", None
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"no connection to {host}: {exc.os_error}", None
    if isinstance(exc, InvalidStatus):
        return (
            f"HTTP {exc.response.status_code} from {host} instead of a WebSocket upgrade",
            None,
        )
    if isinstance(exc, InvalidHandshake):
        return f"a WebSocket handshake that failed: {exc}", None
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else None
        reason = f" ({exc.rcvd.reason})" if exc.rcvd and exc.rcvd.reason else ""
        return f"the server closed the connection (code {code}){reason}", None
    if isinstance(exc, Unexpected):
        return exc.got, exc.check
    if isinstance(exc, DecryptError):
        return str(exc), "decrypt"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"{type(exc).__name__}: {exc}", None
    # Not a way the service answers: likely a bug of ours. Logged with its traceback;
    # the operator still gets a report, not a stack trace.
    log.error("unexpected error while verifying %s", host, exc_info=exc)
    return f"an error inside pushstack's client ({type(exc).__name__}: {exc})", None


__all__ = ["CHECK", "STORE_CHECK", "advice", "got"]
