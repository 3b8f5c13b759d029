"""Bounds on what one client can make the wizard do: AWS calls per minute, sign-in attempts.

Counted in ``webapp.shared`` (one SQLite file), so the bound holds across worker
processes. A client is its browser session when it brought one, else its address
(a script that drops the cookie starts a new session on every request); every AWS call
counts against its address as well, at ADDRESS_FACTOR times a session's bound.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session

from pushstack.cloud import CloudError
from webapp import shared

RATE_LIMITED = "PushstackRateLimit"  # the code of a refusal: HTTP 429 with Retry-After
ADDRESS_FACTOR = 4  # an address without a session may make this many times a session's calls


def client_key() -> str:
    """The browser session that came with the request, else the peer's address."""
    from webapp import store

    if not g.get("session_started") and session.get(store.SESSION_ID):
        return "session " + session[store.SESSION_ID]
    return _address()


def charge_aws_call(service: str, operation: str) -> None:
    """Before each AWS call a request makes: refuse past AWS_CALLS_PER_MINUTE per browser
    session, and past ADDRESS_FACTOR times that per address. Every call counts against
    its address, session or not: a session cookie costs nothing, so a script that takes a
    fresh one every few calls would otherwise never be bounded."""
    if not has_request_context():
        return
    limit = int(current_app.config["AWS_CALLS_PER_MINUTE"] or 0)
    if not limit:
        return
    client = client_key()
    if client.startswith("session ") and shared.hit("aws " + client) > limit:
        _refuse(f"This browser asked for more than {limit} AWS calls in a minute")
    # Every browser and script of one address (on loopback, the whole machine): wider.
    address_limit = limit * ADDRESS_FACTOR
    if shared.hit("aws " + _address()) > address_limit:
        _refuse(
            f"Browsers and scripts at this address asked for more than {address_limit} "
            "AWS calls in a minute"
        )


def _address() -> str:
    return "address " + (request.remote_addr or "?")


def _refuse(what: str) -> None:
    raise CloudError(
        f"{what} through the wizard, so it waits before asking AWS again.",
        "Wait a minute, then reload the page. If you did not ask for this, a page of "
        "another site or program may be calling the wizard in a loop: close it.",
        RATE_LIMITED,
    )
