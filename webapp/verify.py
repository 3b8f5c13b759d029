"""Send a test push from a stack's page: the WebPush round trip of ``pushstack.verify``.

``POST /stacks/<name>/verify`` (the page's button, without JavaScript) and
``POST /api/stacks/<name>/verify`` (its JavaScript, or a script) run the round
trip against the stack's own outputs, read through the wizard's cloud access,
and keep the report as this browser session's last result for the stack
(``store.keep_result``). ``.../probe`` runs a small load probe the same way
(at most ``WEB_MAX_CLIENTS`` for ``WEB_MAX_SECONDS``; the command line goes further). Both go through the checks of every change (host,
origin, access token, CSRF token). The sandbox runs no push servers: there the
page says so and offers no button, and the routes refuse.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from pushstack.cloud import CloudError
from pushstack.verify import limits, roundtrip
from pushstack.verify import probe as probes
from pushstack.verify import report as reports
from pushstack.verify import targets as urls
from webapp import stacks, store
from webapp.cloud import get_access
from webapp.stacks import _http_status, _region, _region_args, stack_url

bp = Blueprint("verify", __name__)

# Shorter than the command line's: a browser waits for the answer (at most ~40 s).
WEB_TIMEOUTS = roundtrip.Timeouts(connect=5, reply=5, send=10, delivery=10)
VERIFIABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
SANDBOX_MESSAGE = (
    "The sandbox runs no push servers: its stacks start no nodes, so there is nothing to "
    "send a test push to, and no result to show."
)
SANDBOX_ADVICE = (
    "Launch the stack into AWS (PUSHSTACK_TARGET=aws), then send a test push from its page, "
    "or run `pushstack verify <stack>` on a machine that reaches it."
)
# The page's probe stays small (a worker thread waits for it); the command line goes further.
WEB_MAX_CLIENTS = 50
WEB_MAX_SECONDS = 30
# Each running round trip or probe holds a worker thread: a few at once per process, no more.
_RUNNING = threading.BoundedSemaphore(2)


class ProbeForm(FlaskForm):
    """The probe's two values (the page renders the CSRF token of both buttons itself)."""

    clients = IntegerField(
        "Connections",
        default=10,
        description=f"Subscribed WebSockets held open from the wizard's machine, 1 to "
        f"{WEB_MAX_CLIENTS} (the command line takes up to {limits.MAX_CLIENTS:,}).",
        validators=[
            InputRequired(message="Give the number of connections."),
            NumberRange(1, WEB_MAX_CLIENTS, message=f"From 1 to {WEB_MAX_CLIENTS} here."),
        ],
        render_kw={"min": 1, "max": WEB_MAX_CLIENTS},
        id="probe-clients",
    )
    seconds = IntegerField(
        "Seconds",
        default=10,
        description=f"How long it sends pushes, at {limits.DEFAULT_RATE} per second "
        f"(fewer with fewer connections), 1 to {WEB_MAX_SECONDS}.",
        validators=[
            InputRequired(message="Give the number of seconds."),
            NumberRange(1, WEB_MAX_SECONDS, message=f"From 1 to {WEB_MAX_SECONDS} here."),
        ],
        render_kw={"min": 1, "max": WEB_MAX_SECONDS},
        id="probe-seconds",
    )


class Refused(Exception):
    """Not run: the HTTP status, what happened and what to do."""

    def __init__(self, status: int, message: str, advice: str = ""):
        super().__init__(message)
        self.status, self.message, self.advice = status, message, advice


@bp.app_template_filter("verify_time")
def _verify_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_context_processor
def _section():
    return {"verify_section": verify_section}


def verify_section(stack, region: str | None) -> dict:
    """What the stack page's "Send a test push" section shows."""
    sandbox = is_sandbox()
    key = _key(stack.name, region)
    last = None if sandbox else store.last_result(key)
    return {
        "probe_form": g.get("probe_form") or ProbeForm(formdata=None),
        "probe_action": url_for("verify.probe_page", name=stack.name, **_region_args(region)),
        "probe_api": url_for("verify.probe_api", name=stack.name, **_region_args(region)),
        "last_probe": None if sandbox else store.last_result(key + "/probe"),
        "sandbox": sandbox,
        "sandbox_message": SANDBOX_MESSAGE,
        "sandbox_advice": SANDBOX_ADVICE,
        "ready": stack.status in VERIFIABLE,
        "action": url_for("verify.run_page", name=stack.name, **_region_args(region)),
        "api": url_for("verify.run_api", name=stack.name, **_region_args(region)),
        "last": reports.from_dict(last) if last else None,
    }


@bp.post("/stacks/<name>/verify")
def run_page(name: str):
    region = _region()
    try:
        _verify(name, region)
    except Refused as exc:
        return _refused_page(name, region, exc)
    return redirect(stack_url(name, region) + "#verify", code=303)


@bp.post("/api/stacks/<name>/verify")
def run_api(name: str):
    """``{"name", "report": {"ok", "steps": [...], ...}}``, or ``{"error", "advice"}``."""
    region = _region()
    try:
        report = _verify(name, region)
    except Refused as exc:
        response = jsonify(name=name, error=exc.message, advice=exc.advice)
        response.status_code = exc.status
    else:
        response = jsonify(name=name, report=report.as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/stacks/<name>/probe")
def probe_page(name: str):
    region = _region()
    form = ProbeForm()
    if not form.validate():
        g.probe_form = form  # the stack's page again, each message next to its field
        body, _, headers = stacks.show(name)
        return body, 422, headers
    try:
        _probe(name, region, form)
    except Refused as exc:
        return _refused_page(name, region, exc)
    return redirect(stack_url(name, region) + "#verify", code=303)


@bp.post("/api/stacks/<name>/probe")
def probe_api(name: str):
    """``{"name", "probe": {...}}``; ``{"error", "errors": {field: message}}`` for bad values."""
    region = _region()
    form = ProbeForm()
    if not form.validate():
        errors = {field: " ".join(messages) for field, messages in form.errors.items()}
        response = jsonify(name=name, error="Check the values.", advice="", errors=errors)
        response.status_code = 422
    else:
        try:
            response = jsonify(name=name, probe=_probe(name, region, form))
        except Refused as exc:
            response = jsonify(name=name, error=exc.message, advice=exc.advice)
            response.status_code = exc.status
    response.headers["Cache-Control"] = "no-store"
    return response


def _probe(name: str, region: str | None, form: ProbeForm) -> dict:
    targets = push_targets(name, region)
    if not _RUNNING.acquire(blocking=False):
        raise Refused(429, "Other test pushes are running in this process.", "Try again soon.")
    try:
        result = probes.run_probe(
            targets, clients=form.clients.data, seconds=form.seconds.data, timeouts=WEB_TIMEOUTS
        )
    finally:
        _RUNNING.release()
    kept = {**result.as_dict(), "started": time.time()}
    store.keep_result(_key(name, region) + "/probe", kept)
    return kept


def _verify(name: str, region: str | None) -> reports.Report:
    targets = push_targets(name, region)
    if not _RUNNING.acquire(blocking=False):
        raise Refused(429, "Other test pushes are running in this process.", "Try again soon.")
    try:
        report = roundtrip.run_round_trip(targets, timeouts=WEB_TIMEOUTS)
    finally:
        _RUNNING.release()
    current_app.logger.info(
        "test push through %s: %s", name, "delivered" if report.ok else report.failure.name
    )
    store.keep_result(_key(name, region), report.as_dict())
    return report


def push_targets(name: str, region: str | None) -> urls.PushTargets:
    """The stack's push URLs from its outputs; ``Refused`` in the sandbox or without them."""
    try:
        if is_sandbox():
            raise Refused(409, SANDBOX_MESSAGE, SANDBOX_ADVICE)
        outputs = stack_outputs(name, region)
    except CloudError as exc:
        raise Refused(_http_status(exc), exc.message, exc.advice) from None
    try:
        return urls.from_outputs(outputs)
    except urls.TargetError as exc:
        raise Refused(422, str(exc), "Wait until the stack is complete.") from None


def _refused_page(name: str, region: str | None, exc: Refused):
    page = render_template(
        "stack_error.html",
        title=f"Test push through {name}",
        error=exc,
        name=name,
        region_args=_region_args(region),
    )
    return page, exc.status, {"Cache-Control": "no-store"}


def is_sandbox() -> bool:
    return get_access().target().is_sandbox


def stack_outputs(name: str, region: str | None) -> dict[str, str]:
    """The stack's outputs (tests hand in a stand-in push server's instead)."""
    return get_access().cloud(region).stack_outputs(name)


def _key(name: str, region: str | None) -> str:
    return f"{region or get_access().target().region}/{name}"
