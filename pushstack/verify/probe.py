"""The bounded load probe: N subscribed clients held open, pushes at a steady rate.

Each client is what the round trip makes (socket, hello, register with a
fresh VAPID key); pushes go round-robin to them at ``rate`` per second for
``seconds``, each encrypted to its subscriber and timed from the start of its
send to its arrival, decrypted. It then waits at most ``delivery`` seconds for
what is still on its way, unregisters and closes everything, and stops.
Bounded in clients, seconds and rate: it is a probe, not a load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, field

from pushstack.verify import failures, loop
from pushstack.verify.connection import PushConnection, Unexpected
from pushstack.verify.keys import DecryptError, Subscriber, VapidKey
from pushstack.verify.limits import DEFAULT_RATE, check_limits
from pushstack.verify.roundtrip import TTL_SECONDS, Timeouts
from pushstack.verify.sender import http_session, send_push
from pushstack.verify.targets import PushTargets, tls_context

OPENING_AT_ONCE = 50  # connections being opened at the same time
SENDING_AT_ONCE = 100  # pushes in flight at the same time
PROGRESS_EVERY = 0.5  # seconds


@dataclass
class ProbeResult:
    clients: int
    seconds: float
    rate: float
    connected: int = 0  # clients that completed hello and register
    held: int = 0  # still open at the end
    connect_failures: dict[str, int] = field(default_factory=dict)  # what came back -> count
    sent: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # the endpoint's answer -> count
    delivered: int = 0
    undecryptable: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    refusal: str = ""  # why the probe did not run at all

    @property
    def lost(self) -> int:
        """Accepted by the endpoint, never delivered intact within the wait."""
        return max(0, self.accepted - self.delivered)

    def percentile(self, share: float) -> float | None:
        """Nearest-rank percentile of the delivery latencies, in ms."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]

    @property
    def ok(self) -> bool:
        return (
            not self.refusal
            and self.connected == self.clients
            and self.held == self.clients
            and self.sent > 0
            and self.delivered == self.sent
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("latencies_ms")
        data.update(
            lost=self.lost,
            ok=self.ok,
            p50_ms=self.percentile(50),
            p95_ms=self.percentile(95),
            p99_ms=self.percentile(99),
        )
        return data

    def lines(self) -> list[str]:
        if self.refusal:
            return [f"Load probe not run: {self.refusal}"]
        out = [
            f"Load probe: {self.clients} clients for {self.seconds:g} s, {self.rate:g} pushes/s",
            f"connections held: {self.held} of {self.clients}"
            f" ({self.clients - self.connected} failed to connect)",
        ]
        out += [f"  {count} x {reason}" for reason, count in self.connect_failures.items()]
        out.append(
            f"pushes: {self.sent} sent, {self.accepted} accepted, {self.delivered} delivered, "
            f"{self.lost} lost"
            + (f" ({self.undecryptable} did not decrypt)" if self.undecryptable else "")
        )
        out += [f"  {count} x refused: {reason}" for reason, count in self.refused.items()]
        if self.latencies_ms:
            p50, p95, p99 = (self.percentile(p) for p in (50, 95, 99))
            out.append(f"delivery latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
        else:
            out.append("delivery latency: nothing was delivered")
        out.append("Every push was delivered." if self.ok else "Not every push went through.")
        return out


@dataclass
class _Client:
    connection: PushConnection
    channel: str
    endpoint: str
    subscriber: Subscriber
    vapid: VapidKey
    open: bool = True


class _Probe:
    def __init__(self, targets, result, timeouts, context, clock, progress):
        self.targets = targets
        self.result = result
        self.timeouts = timeouts
        self.context = context
        self.clock = clock
        self.progress = progress
        self.clients: list[_Client] = []
        self.sent_at: dict[str, float] = {}  # push id -> when its send began
        self.expected: dict[str, bytes] = {}  # push id -> payload, until delivered
        self.all_delivered = asyncio.Event()
        self.sending_done = False

    async def open_client(self, gate: asyncio.Semaphore) -> None:
        ws = self.targets.websocket_url
        async with gate:
            connection = None
            try:
                connection = await PushConnection.open(
                    ws, ssl=self.context, timeout=self.timeouts.connect, clock=self.clock
                )
                await connection.hello(self.timeouts.reply)
                vapid = VapidKey()
                channel, endpoint = await connection.register(
                    vapid.application_server_key, self.timeouts.reply
                )
            except Exception as exc:
                text, _ = failures.got(exc, ws, self.timeouts.connect)
                self._count(self.result.connect_failures, text)
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                return
            if not self.targets.owns(endpoint):
                await connection.close()
                raise Unexpected(f"an endpoint on another host: {endpoint}; nothing was sent")
            self.clients.append(_Client(connection, channel, endpoint, Subscriber(), vapid))
            self.result.connected += 1

    async def read(self, client: _Client) -> None:
        try:
            async for notification, arrived in client.connection.notifications():
                await self._received(client, notification, arrived)
        except Exception:  # the socket closed or broke: the client is no longer held
            client.open = False

    async def _received(self, client: _Client, notification: dict, arrived: float) -> None:
        await client.connection.ack(notification)
        try:
            plain = client.subscriber.decrypt(notification)
            push_id = json.loads(plain)["probe"]
        except (DecryptError, ValueError, KeyError, TypeError):
            self.result.undecryptable += 1
            return
        if self.expected.pop(push_id, None) != plain:
            return  # a repeat, or not ours
        self.result.delivered += 1
        self.result.latencies_ms.append(round((arrived - self.sent_at[push_id]) * 1000, 1))
        if self.sending_done and not self.expected:
            self.all_delivered.set()

    async def send(self, session, client: _Client, number: int, gate) -> None:
        push_id = f"{number}"
        plain = json.dumps({"probe": push_id}).encode()
        async with gate:
            self.expected[push_id] = plain
            self.sent_at[push_id] = self.clock()
            self.result.sent += 1
            try:
                answer = await send_push(
                    session, client.subscriber, client.vapid, client.endpoint, plain, TTL_SECONDS
                )
                reason = "" if answer.accepted else answer.describe()
            except Exception as exc:
                reason, _ = failures.got(exc, client.endpoint, self.timeouts.send)
        if reason:
            self.expected.pop(push_id, None)
            self._count(self.result.refused, reason)
        else:
            self.result.accepted += 1

    async def report_progress(self, started: float) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self._progress(self.clock() - started)

    def _progress(self, elapsed: float) -> None:
        if self.progress is not None:
            self.result.held = sum(client.open for client in self.clients)
            self.progress(min(elapsed, self.result.seconds), self.result)

    @staticmethod
    def _count(counter: dict[str, int], reason: str) -> None:
        counter[reason] = counter.get(reason, 0) + 1


async def probe(
    targets: PushTargets,
    *,
    clients: int,
    seconds: float,
    rate: float | None = None,
    timeouts: Timeouts | None = None,
    ca_file: str | None = None,
    clock=time.perf_counter,
    progress=None,
) -> ProbeResult:
    """``progress(elapsed_seconds, result_so_far)`` is called twice a second while it sends."""
    check_limits(clients, seconds, rate)
    timeouts = timeouts or Timeouts()
    rate = rate or min(DEFAULT_RATE, float(clients))
    result = ProbeResult(clients=clients, seconds=seconds, rate=rate)
    context = tls_context(ca_file)
    run = _Probe(targets, result, timeouts, context, clock, progress)
    opening = asyncio.Semaphore(OPENING_AT_ONCE)
    opened = await asyncio.gather(
        *(run.open_client(opening) for _ in range(clients)), return_exceptions=True
    )
    for outcome in opened:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Unexpected):
            await _close(run.clients, timeouts)
            raise outcome  # not a way the service answers (cancelled, a bug): let it show
    refused = [outcome for outcome in opened if isinstance(outcome, Unexpected)]
    if refused:  # every client has finished opening: none is left open behind
        result.refusal = refused[0].got
        await _close(run.clients, timeouts)
        return result
    readers = [asyncio.create_task(run.read(client)) for client in run.clients]
    sending = asyncio.Semaphore(SENDING_AT_ONCE)
    async with http_session(context, timeouts.send, connections=SENDING_AT_ONCE) as session:
        started = clock()
        ticker = asyncio.create_task(run.report_progress(started))
        sends = []
        number = 0
        while run.clients and (due := started + number / rate) < started + seconds:
            await asyncio.sleep(max(0.0, due - clock()))
            alive = [client for client in run.clients if client.open]
            if not alive:
                break
            client = alive[number % len(alive)]
            sends.append(asyncio.create_task(run.send(session, client, number, sending)))
            number += 1
        await asyncio.gather(*sends)
        run.sending_done = True
        if run.expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.all_delivered.wait(), timeouts.delivery)
        ticker.cancel()
        run._progress(seconds)
    result.held = sum(client.open for client in run.clients)
    for reader in readers:  # before unregistering: one reader per socket at a time
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await _close(run.clients, timeouts)
    return result


async def _close(clients: list[_Client], timeouts: Timeouts) -> None:
    """Unregister each channel (no subscription is left behind) and close, bounded."""

    async def close(client: _Client) -> None:
        with contextlib.suppress(Exception):
            if client.open:
                await client.connection.unregister(client.channel, timeouts.reply)
        with contextlib.suppress(Exception):
            await client.connection.close()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(close(c) for c in clients)), timeouts.reply + 5)


def run_probe(targets: PushTargets, **options) -> ProbeResult:
    return loop.run(probe(targets, **options))
