"""Drift: "Check for changes made outside pushstack" on the stack's page, and its result."""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from pushstack.cloud import CloudError
from pushstack.cloud.drift import SANDBOX_NOTE
from webapp.cloud import get_access

bp = Blueprint("drift", __name__)

# DetectStackDrift's ids are UUIDs.
DETECTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NO_STORE = {"Cache-Control": "no-store"}


class DriftForm(FlaskForm):
    """The check's button: a POST with the form's CSRF token, like every change."""


@bp.app_context_processor
def _drift_form():
    return {"drift_form": DriftForm, "drift_sandbox_note": SANDBOX_NOTE}


def _region_args() -> dict:
    from webapp.stacks import _region, _region_args

    return _region_args(_region())


def _error(name: str, exc: CloudError):
    from webapp.stacks import _error_page, _region

    return _error_page(
        f"Changes to {name} made outside pushstack", exc, name=name, region=_region()
    )


@bp.post("/stacks/<name>/drift")
def detect(name: str):
    from webapp.stacks import _region

    form = DriftForm()
    if not form.validate_on_submit():
        return redirect(url_for("stacks.show", name=name, **_region_args()), code=303)
    try:
        cloud = get_access().cloud(_region())
        if not cloud.drift_detectable:
            return _page(name, None, sandbox=True)
        detection_id = cloud.detect_drift(name)
    except CloudError as exc:
        return _error(name, exc)
    return redirect(url_for("drift.show", name=name, id=detection_id, **_region_args()), code=303)


@bp.get("/stacks/<name>/drift")
def show(name: str):
    from webapp.stacks import _region

    detection_id = request.args.get("id", "")
    try:
        cloud = get_access().cloud(_region())
        if not cloud.drift_detectable:
            return _page(name, None, sandbox=True)
        if not DETECTION_ID.fullmatch(detection_id):
            return redirect(url_for("stacks.show", name=name, **_region_args()), code=303)
        view = cloud.drift(name, detection_id)
    except CloudError as exc:
        return _error(name, exc)
    return _page(name, view)


def _page(name: str, view, sandbox: bool = False):
    page = render_template(
        "drift.html", name=name, drift=view, sandbox=sandbox, region_args=_region_args()
    )
    return page, 200, _NO_STORE
