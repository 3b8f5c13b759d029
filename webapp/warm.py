"""Render the common previews before the wizard serves: ``python -m webapp.warm``.

gunicorn.conf.py runs it once at start (in its own process, so the master forks
its workers with no thread of ours running), after the sandbox is up. It fills
the form as it comes pre-filled, submits it once per log-processing choice and
opens each preview, waiting for cfn-lint: the rendered previews land in
``PREVIEW_SHARED_DIR`` and the findings in ``PREVIEW_LINT_SHARED_DIR``, where
every worker reads them. Each worker then does the same in itself before it
serves (``post_worker_init``), which only reads those files. The first users
get warm pages from the first second. Nothing it renders holds a secret: the
key is generated and dropped.
"""

from __future__ import annotations

import sys
import time
from html.parser import HTMLParser

from pushstack.options import LEGACY, LOG_PROCESSING_CHOICES, RS


class _FormValues(HTMLParser):
    """The values a browser would submit from the page's form."""

    def __init__(self, page: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select = self._textarea = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            elif attrs.get("type") != "submit":
                self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def warm(app, *, wait_for_lint: bool = True) -> list[str]:
    """Open the preview of each log-processing choice; returns what it did, in words.

    With ``wait_for_lint`` (the warm-up process) each preview waits for cfn-lint's
    findings to be written; a worker warming itself (templates compiled, target and
    account read, shared previews loaded) does not change its settings.
    """
    if wait_for_lint:
        app.config["PREVIEW_LINT_WAIT_SECONDS"] = 120
    token = app.config.get("ACCESS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = app.test_client()
    done = []
    # The default engine's shape, then each log processing choice of the legacy engine
    # (autopush-rs has no Firehose or processor: the form refuses them).
    shapes = [(RS, "none")] + [(LEGACY, choice) for choice in LOG_PROCESSING_CHOICES]
    for engine, choice in shapes:
        started = time.monotonic()
        form = client.get("/", headers=headers)
        values = _FormValues(form.get_data(as_text=True)).values
        values.update(
            stack_name=f"warm-{engine}-{choice}",
            engine=engine,
            log_processing=choice,
            crypto_key="",
        )
        response = client.post("/", data=values, headers=headers)
        if response.status_code != 303:
            done.append(
                f"{engine} {choice}: the form answered {response.status_code}; not rendered"
            )
            continue
        page = client.get(response.headers["Location"], headers=headers)
        seconds = time.monotonic() - started
        done.append(f"{engine} {choice}: {page.status_code} in {seconds:.1f} s")
    return done


def main() -> int:
    from webapp import create_app

    try:
        app = create_app()
        for line in warm(app):
            print(f"pushstack warm-up: {line}", file=sys.stderr)
    except Exception as exc:  # a warm-up failure must never stop the wizard from starting
        print(f"pushstack warm-up skipped: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
