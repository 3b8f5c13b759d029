"""One redaction for every log line of the process: no sealed preview, query string or
crypto key is ever written, whoever logs (Flask's exception log, gunicorn's access and
error logs, werkzeug's development server, botocore, the wizard's own modules).

A preview's address carries its options sealed with the secret key, crypto key
included: with that key (or the browser's cookie), a logged address would open them.
``install`` replaces the log record factory, so each record's message and traceback
are redacted when it is made, before any filter, handler or formatter sees it.
"""

from __future__ import annotations

import logging
import re
import traceback

from pushstack.cloud.errors import scrub

# Whatever follows /preview/ keeps its first 8 characters, up to the next space, quote,
# "?" or "#": the token, whole or cut by slashes, and what follows it (a file name of the
# preview's own is put back). Any case, any number of slashes (Werkzeug answers "//" with
# a 308 and the access line keeps the path as asked), percent-encoded or not (a raw
# request line): "/PREVIEW//<token>", "/%70review%2F<token>" all reach the token.
_SLASH = r"(?:/|%2f)"
_WORD = "".join(f"(?:{char}|%{ord(char):02x})" for char in "preview")
_END = r"\s?#\"'<>"
_FILES = r"findings|parameters\.json|processor\.zip|template\.(?:json|yaml|readable\.yaml)"
_PREVIEW_TOKEN = re.compile(
    rf"({_SLASH}+{_WORD}{_SLASH}+[^{_END}]{{0,8}})[^{_END}]*?(/(?:{_FILES}))?(?=[{_END}]|$)",
    re.IGNORECASE,
)
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']+")
_installed = False


def redact(text: str) -> str:
    """A log line without sealed previews, query strings or crypto keys."""
    return scrub(_QUERY.sub(r"\1?...", _PREVIEW_TOKEN.sub(r"\1...\2", text)))


def install() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left as it is
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_text = record.exc_text.rstrip("\n")
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(redacted_record)
    _installed = True
