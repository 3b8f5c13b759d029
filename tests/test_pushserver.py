"""The stand-in push server (tests/pushserver.py) answers as the engines' own tests say
they do (autopush-rs 1.83.1 tests/integration, autopush 1.57.0 websocket.py and
web/webpush.py), checked with raw WebSocket messages and HTTP requests, not through
pushstack's client: what the round trip tests rely on is the protocol, not the stand-in."""

import asyncio
import base64
import json
import time
import uuid

import aiohttp
import py_vapid
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pushserver import PushServer
from websockets.asyncio.client import connect

from pushstack.verify import loop
from pushstack.verify.keys import VapidKey


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _exchange(socket, message: dict) -> dict:
    await socket.send(json.dumps(message))
    return json.loads(await asyncio.wait_for(socket.recv(), 2))


async def _protocol(server: PushServer) -> None:
    vapid = VapidKey()
    async with connect(server.ws_url) as socket:
        refused = await _exchange(socket, {"messageType": "hello"})
        assert refused["status"] == 401  # no use_webpush: Simplepush is not supported
    async with connect(server.ws_url) as socket:
        hello = await _exchange(socket, {"messageType": "hello", "use_webpush": True})
        assert hello["status"] == 200 and hello["use_webpush"] is True
        uaid = hello["uaid"]
        bad = await _exchange(socket, {"messageType": "register", "channelID": "not-a-uuid"})
        assert bad["status"] != 200
        channel = str(uuid.uuid4())
        key = vapid.application_server_key
        register = await _exchange(
            socket, {"messageType": "register", "channelID": channel, "key": key}
        )
        assert register["status"] == 200 and register["channelID"] == channel
        endpoint = register["pushEndpoint"]
        assert endpoint.startswith(server.endpoint_url + "/wpush/v2/")

        headers = {"TTL": "60", "Content-Encoding": "aes128gcm", **vapid.headers(endpoint)}
        async with aiohttp.ClientSession() as http:
            body = b"\x00\x01 opaque bytes: the server decrypts nothing"
            async with http.post(endpoint, data=body, headers=headers) as response:
                assert response.status == 201
                assert response.headers["TTL"] == "60" and response.headers["Location"]
            notification = json.loads(await asyncio.wait_for(socket.recv(), 2))
            assert notification["messageType"] == "notification"
            assert notification["channelID"] == channel and notification["version"]
            assert notification["data"] == b64url(body)  # unpadded base64url, as upstream
            assert notification["headers"] == {"encoding": "aes128gcm"}

            no_ttl = {k: v for k, v in headers.items() if k != "TTL"}
            async with http.post(endpoint, data=body, headers=no_ttl) as response:
                assert response.status == 400
            other_key = {**headers, **VapidKey().headers(endpoint)}
            async with http.post(endpoint, data=body, headers=other_key) as response:
                assert response.status == 403  # not the key given on register
            async with http.post(
                endpoint, data=body, headers={**headers, "Authorization": "x"}
            ) as response:
                assert response.status == 401
            async with http.post(endpoint + "x", data=body, headers=headers) as response:
                assert response.status == 404
            async with http.post(endpoint, data=b"x" * 5000, headers=headers) as response:
                assert response.status == 413

            # Not acked, then the socket closes: sent again on reconnecting with the uaid
            # (upstream's test_delivery_repeat_without_ack).
            await socket.close()
            async with connect(server.ws_url) as again:
                hello = await _exchange(again, {"messageType": "hello", "use_webpush": True,
                                                "uaid": uaid})  # fmt: skip
                assert hello["uaid"] == uaid
                repeated = json.loads(await asyncio.wait_for(again.recv(), 2))
                assert repeated["version"] == notification["version"]
                await again.send(json.dumps({"messageType": "ack", "updates": [
                    {"channelID": channel, "version": repeated["version"]}]}))  # fmt: skip
                gone = await _exchange(again, {"messageType": "unregister", "channelID": channel})
                assert gone["status"] == 200
            async with http.post(endpoint, data=body, headers=headers) as response:
                assert response.status == 410  # unregistered
    async with connect(server.ws_url) as socket:
        hello = await _exchange(socket, {"messageType": "hello", "use_webpush": True,
                                         "uaid": uaid})  # fmt: skip
        with pytest.raises(TimeoutError):  # acked: deleted, nothing comes again
            await asyncio.wait_for(socket.recv(), 0.3)
    async with connect(server.ws_url) as socket:
        # An unknown uaid gets a new one (upstream's test_hello_with_bad_prior_uaid).
        stranger = uuid.uuid4().hex
        hello = await _exchange(socket, {"messageType": "hello", "use_webpush": True,
                                         "uaid": stranger})  # fmt: skip
        assert hello["status"] == 200 and hello["uaid"] not in (stranger, uaid)


def test_the_stand_in_speaks_the_protocol_as_upstream_tests_it():
    with PushServer() as server:
        loop.run(_protocol(server))  # also under a running loop (Playwright's, in a full run)


async def _audiences(server: PushServer, audiences: list[str]) -> list[int]:
    """The status of a push signed for each ``aud`` (py-vapid directly, not pushstack's)."""
    vapid = py_vapid.Vapid02()
    vapid.generate_keys()
    key = b64url(vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    async with connect(server.ws_url) as socket:
        await _exchange(socket, {"messageType": "hello", "use_webpush": True})
        message = {"messageType": "register", "channelID": str(uuid.uuid4()), "key": key}
        register = await _exchange(socket, message)
        endpoint = register["pushEndpoint"]
        statuses = []
        async with aiohttp.ClientSession() as http:
            for aud in audiences:
                claims = {"sub": "mailto:test@example.invalid", "aud": aud,
                          "exp": int(time.time()) + 600}  # fmt: skip
                headers = {"TTL": "60", "Content-Encoding": "aes128gcm", **vapid.sign(claims)}
                async with http.post(endpoint, data=b"x", headers=headers) as response:
                    statuses.append(response.status)
    return statuses


def test_the_stand_in_checks_aud_as_autoendpoint_does():
    """autoendpoint 1.83.1 (extractors/subscription.rs, validate_vapid_jwt) sets
    jsonwebtoken's audience to its endpoint URL's origin().ascii_serialization(): parsed,
    so the host is in lower case, and compared as an exact string. The stand-in hands out
    endpoints with the host name as given (capitals too, as autoconnect does)."""
    with PushServer(host_name="LocalHost") as server:
        port = server.endpoint_url.rsplit(":", 1)[1]
        statuses = loop.run(
            _audiences(
                server,
                [
                    f"http://localhost:{port}",  # the lowercased origin: accepted
                    f"http://LocalHost:{port}",  # as handed out: refused, as autoendpoint
                    f"https://localhost:{port}",
                    "http://localhost",
                ],
            )
        )
    assert statuses == [201, 401, 401, 401]
