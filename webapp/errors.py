"""Error pages in plain words: no stack trace, a way back to the form, whatever failed."""

from __future__ import annotations

import logging

from flask import current_app, has_request_context, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Go back to the form and submit it again.",
    401: "Sign in with the wizard's access token first.",
    403: "This request is not allowed.",
    404: "There is no page at this address.",
    405: "This page cannot be used that way. Start again from the form.",
    413: "What was sent is far larger than any form needs.",
    500: "Something went wrong on our side. Your input was not saved: go back and try again.",
}
UNTRUSTED_HOST = (
    "The wizard does not answer to this host name. Open it by the address it was started "
    "with (for example http://127.0.0.1:5000/), or add the name to PUSHSTACK_TRUSTED_HOSTS."
)

# The last resort when even the error template cannot render: no template, no URL building.
_PLAIN_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · pushstack'
    '</title></head><body><main><h1>{title}</h1><p>{message}</p><p><a href="/">Back to the '
    "form</a></p></main></body></html>"
)


def init_app(app) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    # A rejected Host leaves the request without a URL adapter: build paths without it.
    app.jinja_env.globals["url_for"] = _url_for


def _url_for(endpoint: str, **values) -> str:
    if has_request_context() and request_ctx.url_adapter is None:
        values.pop("_external", None)
        adapter = current_app.url_map.bind("localhost", script_name=request.script_root or "/")
        return adapter.build(endpoint, values)
    return current_app.url_for(endpoint, **values)


def _page(code: int, title: str, message: str):
    headers = {"Cache-Control": "no-store"}
    try:
        body = render_template("error.html", code=code, title=title, message=message)
    except Exception:
        log.exception("The error page of a %s failed; sending the plain one", code)
        body = _PLAIN_PAGE.format(title=escape(title), message=escape(message))
    return body, code, headers


def _csrf_error(error: CSRFError):
    return _page(
        400,
        "The form has expired",
        "The form's security token is missing or out of date (for example after the "
        "wizard restarted). Reload the form and submit it again.",
    )


def _http_error(error: HTTPException):
    code = error.code or 500
    if isinstance(error, SecurityError):
        return _page(400, "Unknown host name", UNTRUSTED_HOST)
    message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    if code == 403 and error.description != type(error).description:
        message = error.description  # our own explanation of the refusal
    return _page(code, error.name, message)


def _server_error(error: InternalServerError):
    return _page(500, "Internal error", MESSAGES[500])
