"""One push client's WebSocket to the connection nodes, as a browser speaks it.

The messages are the WebPush protocol both engines speak (autopush 1.57.0's
``websocket.py``, autopush-rs's autoconnect): ``hello`` with ``use_webpush``
(an earlier ``uaid`` asks for what was stored meanwhile), ``register`` with a
channel id and the application server key, ``notification`` from the server,
``ack``, ``unregister``. Replies come in order, but a notification may arrive
between a request and its reply: it is kept until asked for.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

USER_AGENT = "pushstack-verify (WebPush round trip)"
MAX_MESSAGE_BYTES = 64 * 1024  # a notification is at most ~5 KB of base64


class Unexpected(Exception):
    """The server answered, but not what the protocol says: ``got`` says what came,
    ``check`` (a key of ``failures.CHECK`` or ``failures.STORE_CHECK``) what to look at
    when the step's own is wrong."""

    def __init__(self, got: str, check: str | None = None):
        super().__init__(got)
        self.got = got
        self.check = check


class PushConnection:
    def __init__(self, socket: ClientConnection, clock=time.perf_counter):
        self._socket = socket
        self._clock = clock
        self._notifications: deque[tuple[dict, float]] = deque()  # (message, arrival time)
        self.uaid: str | None = None

    @classmethod
    async def open(cls, url: str, *, ssl, timeout: float, clock=time.perf_counter):
        socket = await connect(
            url,
            ssl=ssl if url.startswith("wss://") else None,
            open_timeout=timeout,
            close_timeout=2,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header=USER_AGENT,
            # The server pings; our own pings would only add traffic to a probe.
            ping_interval=None,
        )
        return cls(socket, clock)

    async def close(self) -> None:
        await self._socket.close()

    async def hello(self, timeout: float, uaid: str | None = None) -> dict:
        message = {"messageType": "hello", "use_webpush": True, "channelIDs": []}
        if uaid:
            message["uaid"] = uaid
        reply = await self._request(message, "hello", timeout)
        if reply.get("status") != 200:
            raise Unexpected(f"hello answered with status {_status(reply)}")
        if not reply.get("uaid"):
            raise Unexpected("hello answered with status 200 but no uaid")
        self.uaid = str(reply["uaid"])
        return reply

    async def register(self, key: str | None, timeout: float) -> tuple[str, str]:
        """A new channel: (channel id, push endpoint)."""
        channel_id = str(uuid.uuid4())
        message = {"messageType": "register", "channelID": channel_id}
        if key:
            message["key"] = key
        reply = await self._request(message, "register", timeout)
        if reply.get("status") != 200:
            raise Unexpected(f"register answered with status {_status(reply)}")
        if reply.get("channelID") != channel_id or not reply.get("pushEndpoint"):
            raise Unexpected(
                f"register answered for channel {reply.get('channelID')!r} with endpoint "
                f"{reply.get('pushEndpoint')!r} (asked for {channel_id})"
            )
        return channel_id, str(reply["pushEndpoint"])

    async def unregister(self, channel_id: str, timeout: float) -> None:
        message = {"messageType": "unregister", "channelID": channel_id}
        reply = await self._request(message, "unregister", timeout)
        if reply.get("status") != 200:
            raise Unexpected(f"unregister answered with status {_status(reply)}")

    async def ack(self, notification: dict) -> None:
        """No reply in the protocol: the server deletes the stored message."""
        update = {"channelID": notification.get("channelID"), "version": notification["version"]}
        await self._send({"messageType": "ack", "updates": [update]})

    async def notification(self, channel_id: str, timeout: float) -> tuple[dict, float]:
        """The next notification for ``channel_id`` and when it arrived (the clock's
        time); others are kept for later."""
        for kept in list(self._notifications):
            if kept[0].get("channelID") == channel_id:
                self._notifications.remove(kept)
                return kept
        async with asyncio.timeout(timeout):
            while True:
                message = await self._receive()
                if message.get("messageType") != "notification":
                    continue
                if message.get("channelID") == channel_id:
                    return message, self._clock()
                self._notifications.append((message, self._clock()))

    async def notifications(self):
        """Every notification as it comes, with its arrival time (the load probe's reader)."""
        while self._notifications:
            yield self._notifications.popleft()
        while True:
            message = await self._receive()
            if message.get("messageType") == "notification":
                yield message, self._clock()

    async def _request(self, message: dict, reply_type: str, timeout: float) -> dict:
        await self._send(message)
        async with asyncio.timeout(timeout):
            while True:
                reply = await self._receive()
                kind = reply.get("messageType")
                if kind == "notification":
                    self._notifications.append((reply, self._clock()))
                elif kind == reply_type:
                    return reply
                elif kind == "error" or "status" in reply:
                    raise Unexpected(f"{kind or 'a message'} with status {_status(reply)}")
                # anything else (broadcast, ping) is not for us

    async def _send(self, message: dict) -> None:
        await self._socket.send(json.dumps(message))

    async def _receive(self) -> dict:
        text = await self._socket.recv()
        try:
            message = json.loads(text)
        except ValueError:
            raise Unexpected(f"a message that is not JSON: {str(text)[:80]!r}") from None
        if not isinstance(message, dict):
            raise Unexpected(f"a message that is not a JSON object: {str(text)[:80]!r}")
        return message


def _status(reply: dict) -> str:
    status = reply.get("status")
    reason = reply.get("reason") or reply.get("error") or ""
    return f"{status}" + (f" ({reason})" if reason else "")


__all__ = ["ConnectionClosed", "PushConnection", "Unexpected"]
