"""Keep the crypto key out of botocore's debug logs.

At DEBUG level botocore logs every request's parameters and every response
body; CreateStack carries the key (a NoEcho parameter) and the sandbox answers
with it in clear. These filters mask anything shaped like a key in those records.
"""

from __future__ import annotations

import logging

from pushstack.cloud.errors import scrub

# The loggers that write request parameters and response bodies.
BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "urllib3.connectionpool")


class KeyRedactingFilter(logging.Filter):
    """Masks crypto keys in a record's message (never drops the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left as it is
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = KeyRedactingFilter()


def install() -> None:
    """Add the filter to botocore's body-logging loggers (idempotent)."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
