"""What the wizard reads from the account besides stacks: the vCPU quota the nodes count
against and the AMI the public SSM parameter names today (the preview), and the depth of
a processor stack's failure queue (the stack page and its JSON API).

Each answer, or failure, is shared by every browser for ``ACCOUNT_CHECKS_SECONDS``
(``CloudAccess.checked``). A failure is words next to what it concerns ("could not
check"): these reads never stop a page. One more route: pin the AMI the preview shows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired

from pushstack.cloud import CloudError, preflight, queues
from pushstack.options import SPECS, Options
from pushstack.template import AMI_PARAMETER
from webapp import store
from webapp.cloud import get_access

bp = Blueprint("checks", __name__)

_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Check:
    """A value read from the account (a view of ``pushstack.cloud``), or why it could not
    be read (``problem``)."""

    value: object = None
    problem: CloudError | None = None

    @property
    def words(self) -> str:
        return str(self.problem) if self.problem else ""


def _check(what: str, region: str | None, fetch: Callable) -> Check | None:
    """None when no target is reachable (nothing to check against)."""
    access = get_access()
    try:
        access.target()
    except CloudError:
        return None
    try:
        return Check(access.checked(what, region, fetch))
    except CloudError as exc:
        return Check(problem=exc)


def vcpu_quota(options: Options) -> Check | None:
    """The account's quota of On-Demand standard vCPUs in the stack's region."""
    return _check("vcpu-quota", options.region, preflight.vcpu_quota)


def current_ami(options: Options) -> Check | None:
    """The AMI the template's public SSM parameter names today in the stack's region."""
    return _check(
        "ami " + AMI_PARAMETER,
        options.region,
        lambda cloud: preflight.current_ami(cloud, AMI_PARAMETER),
    )


def failure_queue(outputs: Mapping[str, str], region: str | None) -> Check | None:
    """The depth of the stack's processor failure queue; None for a stack without one."""
    url = outputs.get(queues.OUTPUT)
    if not url:
        return None
    return _check("queue " + url, region, lambda cloud: queues.failure_queue(cloud, url))


def failure_queue_json(check: Check | None) -> dict | None:
    """The queue's depth as the JSON API gives it."""
    if check is None:
        return None
    if check.problem is not None:
        return {"error": check.problem.message, "advice": check.problem.advice}
    return check.value.as_dict()


# Pin the AMI the preview shows: the same preview (crypto key included) with ami_id set.


class PinAmiForm(FlaskForm):
    ami_id = HiddenField(validators=[DataRequired()])


@bp.app_context_processor
def _pin_form():
    return {"pin_ami_form": PinAmiForm}


@bp.post("/preview/<preview_id>/pin-ami")
def pin_ami(preview_id: str):
    options = store.recall(preview_id)
    if options is None:
        return render_template("expired.html"), 404, _NO_STORE
    form = PinAmiForm()
    ami_id = (form.ami_id.data or "").strip()
    if not form.validate_on_submit() or not re.fullmatch(SPECS["ami_id"].pattern, ami_id):
        return redirect(url_for("preview.show", preview_id=preview_id), code=303)
    pinned = store.remember(dataclasses.replace(options, ami_id=ami_id))
    return redirect(url_for("preview.show", preview_id=pinned, _anchor="ami"), code=303)
