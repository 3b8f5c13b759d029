"""The pushstack wizard: a Flask application over the pushstack library."""

from __future__ import annotations

import shlex
from pathlib import Path

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect

from webapp import settings, shared

ROOT = Path(__file__).resolve().parent.parent

csrf = CSRFProtect()

# Self only: no CDN, no inline script or style (Pygments CSS is served as a file).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=63072000"  # two years, served only over TLS


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then PUSHSTACK_* environment variables, then ``test_config``.

    Raises ``settings.SettingsError`` when the settings are unsafe for where it serves.
    """
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    settings.load(app.config, test_config)
    from webapp import logs

    logs.install()  # every log line of the process, Flask's exception log included
    with app.app_context():
        shared.check_dir(shared.path().parent)  # at start, not at the first sign-in

    from webapp import auth, errors, preview, store, wizard

    auth.init_app(app)  # before CSRFProtect: hosts, origins and the token are checked first
    csrf.init_app(app)
    store.init_app(app)
    errors.init_app(app)
    app.register_blueprint(wizard.bp)
    app.register_blueprint(preview.bp)
    from webapp import cloud, drift, stacks

    cloud.init_app(app)
    app.register_blueprint(stacks.bp)
    # Every value in a command a page shows goes through it (issue 16 item 10): a
    # processor code key may hold "!" and "'", which a shell would read.
    app.jinja_env.filters["shell"] = shlex.quote
    from webapp import verify

    app.register_blueprint(verify.bp)
    app.register_blueprint(drift.bp)
    from webapp import checks

    app.register_blueprint(checks.bp)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not "no-referrer": browsers then send "Origin: null" with the wizard's own forms,
    # and the same-origin check (webapp.auth) could not tell them from a foreign page's.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        # Pages carry form tokens and a user's values: never kept by a browser or proxy.
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["TLS"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
