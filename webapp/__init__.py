"""The pushstack wizard: a Flask application over the pushstack library."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

csrf = CSRFProtect()

# Self only: no CDN, no inline script or style (Pygments CSS is served as a file).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then PUSHSTACK_* environment variables, then ``test_config``."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(
        HOST="127.0.0.1",  # where scripts/serve listens; a random SECRET_KEY is only fine there
        PREVIEW_TTL_SECONDS=30 * 60,
        MAX_CONTENT_LENGTH=256 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session cookie
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env(prefix="PUSHSTACK")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        if app.config["HOST"] not in LOCAL_HOSTS:
            raise RuntimeError(
                "PUSHSTACK_SECRET_KEY must be set when the wizard serves on "
                f"{app.config['HOST']}: sessions and CSRF tokens are signed with it."
            )
        # Local use: a fresh key per process; a restart only asks for a new form.
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    csrf.init_app(app)

    from webapp import errors, preview, store, wizard

    store.init_app(app)
    errors.init_app(app)
    app.register_blueprint(wizard.bp)
    app.register_blueprint(preview.bp)
    from webapp import cloud, stacks

    cloud.init_app(app)
    app.register_blueprint(stacks.bp)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
