"""Bounds on what one client can make the wizard do: AWS calls per minute, sign-in attempts.

Counted in ``webapp.shared`` (one SQLite file), so the bound holds across worker
processes. A client is its browser session when it brought one, else its address
(a script that drops the cookie starts a new session on every request).
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
    return "address " + (request.remote_addr or "?")


def charge_aws_call(service: str, operation: str) -> None:
    """Before each AWS call a request makes: refuse past AWS_CALLS_PER_MINUTE per client."""
    if not has_request_context():
        return
    limit = int(current_app.config["AWS_CALLS_PER_MINUTE"] or 0)
    client = client_key()
    if client.startswith("address "):
        # Every browser's first request, and every cookie-less script, of one address:
        # on loopback that is the whole machine, so a wider bound.
        limit *= ADDRESS_FACTOR
    if limit and shared.hit("aws " + client) > limit:
        raise CloudError(
            f"This browser asked for more than {limit} AWS calls in a minute through the "
            "wizard, so it waits before asking AWS again.",
            "Wait a minute, then reload the page. If you did not ask for this, a page of "
            "another site or program may be calling the wizard in a loop: close it.",
            RATE_LIMITED,
        )
