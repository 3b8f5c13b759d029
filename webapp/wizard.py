"""The form: fill it in (or open a share link), submit, and go to the preview."""

from __future__ import annotations

import contextlib

from flask import Blueprint, redirect, render_template, request, url_for

from pushstack.options import REGIONS, generate_table_prefix
from webapp import store
from webapp.forms import CHOICES_EXPLAINED, OptionsForm

bp = Blueprint("wizard", __name__)

# The hidden field that carries a typed key, sealed, across a form error.
KEPT_KEY_FIELD = "crypto_key_sealed"
TOO_LONG = (
    "Together with the other values, these keys make the preview's address too long to "
    "open: give fewer keys (or shorter image names, processor code key or key pair name)."
)


@bp.get("/")
def form():
    """The empty form, or the one a share link describes (checked on submit, not now)."""
    # A share link carries the table prefix; a fresh form gets a new one to show.
    form = OptionsForm(formdata=request.args or None, table_prefix=generate_table_prefix())
    return _render(form)


@bp.post("/")
def submit():
    form = OptionsForm()
    # The key kept (sealed) from an earlier round, unless the user typed another.
    kept_key = store.unseal_key(request.form.get(KEPT_KEY_FIELD))
    if kept_key and not (form.crypto_key.data or "").strip():
        form.crypto_key.data = kept_key
    if not form.validate_on_submit():
        return _render(form), 422
    preview_id = store.remember(form.options)
    if len(preview_id) > store.MAX_TOKEN_LENGTH:
        form.crypto_key.errors = [*form.crypto_key.errors, TOO_LONG]
        return _render(form), 422
    return redirect(url_for("preview.show", preview_id=preview_id), code=303)


@bp.post("/sandbox/network")
def sandbox_network():
    """Seed the sandbox's network in a region (the form's script asks before it loads that
    region's choices): a POST, CSRF token and same origin, never a GET (issue 16 item 4)."""
    from webapp import cloud

    region = request.form.get("region")
    if region not in REGIONS:
        return "", 400
    # On failure the form's GET says the region's network could not be read.
    with contextlib.suppress(cloud.CloudError):
        cloud.get_access().sandbox_network(region, seed=True)
    return "", 204


def _render(form: OptionsForm) -> str:
    """The form; after a failed submit, a valid key travels on sealed, never in clear."""
    typed_key = (form.crypto_key.data or "").strip() if request.method == "POST" else ""
    sealed_key = None
    if typed_key and not form.crypto_key.errors:
        sealed_key = store.seal_key(typed_key)
    return render_template(
        "form.html",
        form=form,
        explained=CHOICES_EXPLAINED,
        key_dropped=bool(typed_key) and sealed_key is None,
        key_kept=sealed_key is not None,
        sealed_key=sealed_key,
        kept_key_field=KEPT_KEY_FIELD,
    )
