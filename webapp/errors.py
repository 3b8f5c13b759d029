"""Error pages in plain words: no stack trace, a way back to the form."""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: "The request could not be understood. Go back to the form and submit it again.",
    404: "There is no page at this address.",
    405: "This page cannot be used that way. Start again from the form.",
    413: "What was sent is far larger than any form needs.",
    500: "Something went wrong on our side. Your input was not saved: go back and try again.",
}


def init_app(app) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


def _page(code: int, title: str, message: str):
    return render_template("error.html", code=code, title=title, message=message), code


def _csrf_error(error: CSRFError):
    return _page(
        400,
        "The form has expired",
        "The form's security token is missing or out of date (for example after the "
        "wizard restarted). Reload the form and submit it again.",
    )


def _http_error(error: HTTPException):
    code = error.code or 500
    return _page(code, error.name, MESSAGES.get(code, MESSAGES[400 if code < 500 else 500]))


def _server_error(error: InternalServerError):
    return _page(500, "Internal error", MESSAGES[500])
