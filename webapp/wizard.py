"""The form: fill it in (or open a share link), submit, and go to the preview."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from pushstack.options import generate_table_prefix
from webapp import store
from webapp.forms import LOG_PROCESSING_EXPLAINED, OptionsForm

bp = Blueprint("wizard", __name__)


@bp.get("/")
def form():
    """The empty form, or the one a share link describes (checked on submit, not now)."""
    # A share link carries the table prefix; a fresh form gets a new one to show.
    form = OptionsForm(formdata=request.args or None, table_prefix=generate_table_prefix())
    return _render(form)


@bp.post("/")
def submit():
    form = OptionsForm()
    if not form.validate_on_submit():
        return _render(form), 422
    preview_id = store.remember(form.options)
    return redirect(url_for("preview.show", preview_id=preview_id), code=303)


def _render(form: OptionsForm) -> str:
    # A typed key is never sent back; say so, so the user knows to enter it again.
    key_dropped = bool(form.crypto_key.data) and request.method == "POST"
    return render_template(
        "form.html",
        form=form,
        explained=LOG_PROCESSING_EXPLAINED,
        key_dropped=key_dropped,
    )
