"""The round trip: what a browser and an application server do, against the stack.

Open the WebSocket, ``hello``, ``register`` a channel with a fresh VAPID key,
send an encrypted push to the endpoint, receive it, decrypt and compare it,
``ack``; close the socket, send another, reconnect with the uaid and receive
it from the store, ``ack``, ``unregister``. Every step is timed; the first
failure ends the round trip, reported as expected / got / what to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass

from pushstack.verify import failures, loop
from pushstack.verify.connection import PushConnection, Unexpected
from pushstack.verify.keys import DecryptError, Subscriber, VapidKey
from pushstack.verify.report import Report, Step
from pushstack.verify.sender import http_session, send_push
from pushstack.verify.targets import PushTargets, tls_context

TTL_SECONDS = 300  # long enough to be stored while the socket is closed, short to expire


@dataclass(frozen=True)
class Timeouts:
    """Seconds each kind of step may take (tests make them short)."""

    connect: float = 10.0
    reply: float = 10.0
    send: float = 15.0
    delivery: float = 15.0


class _Stop(Exception):
    """A step failed: the report says which; the round trip ends."""


class _Steps:
    def __init__(self, report: Report, clock, engine: str):
        self.report = report
        self.clock = clock
        self.engine = engine  # the advice names this engine's store

    @contextlib.asynccontextmanager
    async def step(self, name, title, *, expected, url="", timeout=0.0, check="socket"):
        started = self.clock()
        outcome = {"detail": ""}
        try:
            yield outcome
        except _Stop:
            raise
        except Exception as exc:
            text, cause = failures.got(exc, url, timeout)
            self.report.steps.append(
                Step(
                    name,
                    title,
                    False,
                    _ms(self.clock() - started),
                    expected=expected,
                    got=text,
                    advice=failures.advice(cause or check, self.engine),
                )
            )
            raise _Stop from None
        self.report.steps.append(
            Step(name, title, True, _ms(self.clock() - started), detail=outcome["detail"])
        )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def payload() -> bytes:
    """What is sent: random, so that a stale or foreign message never compares equal."""
    return json.dumps({"pushstack": "verify", "nonce": secrets.token_hex(16)}).encode()


def send_check(status: int, message: str) -> str:
    if status in (401, 403):
        return "vapid"
    if status == 413 or (status == 400 and "errno 104" in message):
        return "too_large"  # autopush 1.57.0 answers 400 with errno 104 for a large payload
    return "send"


async def _send(session, subscriber, vapid, endpoint, data) -> str:
    result = await send_push(session, subscriber, vapid, endpoint, data, TTL_SECONDS)
    if not result.accepted:
        raise Unexpected(result.describe(), check=send_check(result.status, result.message))
    return f"HTTP {result.status}"


def _compare(subscriber: Subscriber, notification: dict, sent: bytes, earlier: bytes = b"") -> str:
    try:
        plain = subscriber.decrypt(notification)
    except DecryptError as exc:
        raise Unexpected(f"a notification whose data {exc}", check="decrypt") from None
    if plain == earlier and earlier:
        raise Unexpected(
            "the first push again: the acknowledgement of it was not taken", check="stored"
        )
    if plain != sent:
        raise Unexpected(f"a different payload: {plain[:80]!r}", check="decrypt")
    return f"{len(plain)} bytes, equal"


async def round_trip(
    targets: PushTargets,
    *,
    timeouts: Timeouts = Timeouts(),
    ca_file: str | None = None,
    clock=time.perf_counter,
) -> Report:
    report = Report(targets.websocket_url, targets.endpoint_url)
    steps = _Steps(report, clock, targets.engine)
    context = tls_context(ca_file)
    subscriber, vapid = Subscriber(), VapidKey()
    ws = targets.websocket_url
    connection: PushConnection | None = None
    async with http_session(context, timeouts.send) as session:
        try:
            async with steps.step(
                "connect", "Open the WebSocket", expected=f"a WebSocket connection to {ws}",
                url=ws, timeout=timeouts.connect, check="socket",
            ) as out:  # fmt: skip
                connection = await PushConnection.open(
                    ws, ssl=context, timeout=timeouts.connect, clock=clock
                )
                out["detail"] = "certificate verified" if targets.secure else "no TLS (ws://)"
            async with steps.step(
                "hello", "Say hello (use_webpush)", expected="a hello reply, status 200, a uaid",
                url=ws, timeout=timeouts.reply, check="hello",
            ) as out:  # fmt: skip
                await connection.hello(timeouts.reply)
                uaid = connection.uaid
                out["detail"] = f"uaid {uaid}"
            async with steps.step(
                "register", "Register a channel with a new VAPID key",
                expected="a register reply, status 200, a push endpoint under "
                f"{targets.endpoint_url}", url=ws, timeout=timeouts.reply, check="register",
            ) as out:  # fmt: skip
                channel, endpoint = await connection.register(
                    vapid.application_server_key, timeouts.reply
                )
                if not targets.owns(endpoint):
                    # Never send anywhere but the stack's own endpoint host.
                    raise Unexpected(
                        f"an endpoint on another host: {endpoint}; nothing was sent to it",
                        check="endpoint_host",
                    )
                out["detail"] = f"channel {channel}"
            first = payload()
            async with steps.step(
                "send", "Send an encrypted push (aes128gcm, VAPID, TTL)",
                expected="HTTP 201 Created", url=endpoint, timeout=timeouts.send, check="send",
            ) as out:  # fmt: skip
                sent_at = clock()
                out["detail"] = await _send(session, subscriber, vapid, endpoint, first)
            async with steps.step(
                "receive", "Receive the notification", url=ws, timeout=timeouts.delivery,
                expected=f"a notification for the channel within {timeouts.delivery:g} s",
                check="deliver",
            ) as out:  # fmt: skip
                notification, arrived = await connection.notification(channel, timeouts.delivery)
                out["detail"] = f"{_ms(arrived - sent_at)} ms after the send began"
            async with steps.step(
                "decrypt", "Decrypt it and compare", expected="the payload that was sent",
                check="decrypt",
            ) as out:  # fmt: skip
                out["detail"] = _compare(subscriber, notification, first)
            async with steps.step("ack", "Acknowledge it", expected="the ack sent", url=ws):
                await connection.ack(notification)
            async with steps.step("close", "Close the socket", expected="a clean close", url=ws):
                closing, connection = connection, None
                await closing.close()
            second = payload()
            async with steps.step(
                "send_stored", "Send a push while the socket is closed",
                expected="HTTP 201 Created (the message is stored)", url=endpoint,
                timeout=timeouts.send, check="send",
            ) as out:  # fmt: skip
                out["detail"] = await _send(session, subscriber, vapid, endpoint, second)
            async with steps.step(
                "reconnect", "Reconnect and say hello with the uaid",
                expected="a hello reply, status 200, the same uaid", url=ws,
                timeout=timeouts.connect + timeouts.reply, check="socket",
            ) as out:  # fmt: skip
                connection = await PushConnection.open(
                    ws, ssl=context, timeout=timeouts.connect, clock=clock
                )
                try:
                    await connection.hello(timeouts.reply, uaid=uaid)
                except Unexpected as exc:
                    raise Unexpected(exc.got, check="hello") from None
                if connection.uaid != uaid:
                    raise Unexpected(
                        f"a new uaid {connection.uaid}: the store did not know {uaid}",
                        check="reconnect",
                    )
                out["detail"] = "same uaid"
            async with steps.step(
                "receive_stored", "Receive the stored notification", url=ws,
                expected=f"the stored notification within {timeouts.delivery:g} s, decrypted "
                "equal to what was sent", timeout=timeouts.delivery, check="stored",
            ) as out:  # fmt: skip
                stored, _ = await connection.notification(channel, timeouts.delivery)
                out["detail"] = _compare(subscriber, stored, second, earlier=first)
            async with steps.step("ack_stored", "Acknowledge it", expected="the ack sent", url=ws):
                await connection.ack(stored)
            async with steps.step(
                "unregister", "Unregister the channel", expected="an unregister reply, status 200",
                url=ws, timeout=timeouts.reply, check="register",
            ):  # fmt: skip
                await connection.unregister(channel, timeouts.reply)
        except _Stop:
            pass
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)
    return report


def run_round_trip(targets: PushTargets, **options) -> Report:
    """``round_trip`` for callers without an event loop (the command line, the wizard)."""
    return loop.run(round_trip(targets, **options))
