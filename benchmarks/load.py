"""Load on a running wizard: N users filling the form, submitting it and reading the preview.

    .venv/bin/python benchmarks/load.py [URL] [--users 50] [--rounds 3]
    .venv/bin/python benchmarks/load.py watch [URL] --sandbox SANDBOX_URL [--viewers 1,20]

The first form prints, per step (form GET, submit POST, preview GET, a static
file), the count, p50, p95 and maximum response times and the errors. Users
are threads, each with its own cookies; each round submits a new stack name
and one of the log-processing choices in turn (so several template shapes).

``watch`` launches a stack into the sandbox through the wizard (or watches
``--stack``), then lets 1 and then 20 viewers (``--viewers 1,4,20``: any
phases) poll its JSON API every 2 s, and counts the CloudFormation calls the
sandbox received per minute in each phase with moto's request recorder. The recorder writes request bodies
to a file (``moto_recording`` in the sandbox's folder): use it only here and
in tests; the script empties it afterwards.

Only loopback addresses are accepted, and users, rounds and time are bounded.
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import ipaddress
import json
import os
import re
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from html.parser import HTMLParser

DEFAULT_URL = "http://127.0.0.1:5000"
MAX_USERS = 200
MAX_ROUNDS = 50
MAX_SECONDS = 900
TIMEOUT = 60
CHOICES = ("none", "firehose", "processor")
# Typed when the form does not offer the account's network (outside the sandbox).
NETWORK = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0\nsubnet-0123456789abcdef1",
    "private_subnet_ids": "subnet-0123456789abcdef2",
    "messages_api_subnet_id": "subnet-0123456789abcdef2",
    "processor_code_bucket": "load-test-code",
}


class FormValues(HTMLParser):
    """A page's forms as a browser would submit them: (action, {name: value}) each."""

    def __init__(self, page: str):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str], set[str]]] = []
        self._textarea = self._select = None
        self._first_option = False
        self.feed(page)

    @property
    def values(self) -> dict[str, str]:
        return self.forms[-1][1] if self.forms else {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", {}, set(attrs.get("class", "").split())))
            return
        if not self.forms:
            return
        values = self.forms[-1][1]
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    values[name] = attrs.get("value", "y")
            elif kind != "submit":
                values[name] = attrs.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            values[name] = ""
        elif tag == "select":
            self._select, self._first_option = name, True
        elif tag == "option" and self._select:
            if "selected" in attrs or self._first_option:
                values[self._select] = attrs.get("value", "")
            self._first_option = False

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1][1][self._textarea] += data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One user: its own cookies, no automatic redirects, timings by step."""

    def __init__(self, base: str, record):
        self.base = base.rstrip("/")
        self.record = record
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(self, step: str, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)
        if body is not None:
            request.add_header("Origin", self.base)
            request.add_header("Referer", self.base + "/")
        start = time.perf_counter()
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                status, text, headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, text, headers = error.code, error.read(), error.headers
        except (OSError, TimeoutError) as error:
            self.record(step, time.perf_counter() - start, f"{type(error).__name__}: {error}")
            return 0, "", {}
        elapsed = time.perf_counter() - start
        self.record(step, elapsed, None if status < 400 else f"HTTP {status}")
        return status, text.decode("utf-8", "replace"), dict(headers)


def fill(form: dict[str, str], user: int, round_: int, prefix: str) -> dict[str, str]:
    """The form as a user would submit it: a new stack name and a log-processing choice."""
    data = dict(form)
    data["stack_name"] = f"{prefix}-u{user}-r{round_}"
    data["log_processing"] = CHOICES[(user + round_) % len(CHOICES)]
    # Log processing is autopush 1.57.0's; without it, the default autopush-rs.
    data["engine"] = "autopush-rs" if data["log_processing"] == "none" else "autopush-legacy"
    data["crypto_key"] = ""  # generated: as a hurried user would leave it
    data["table_prefix"] = ""
    for name, value in NETWORK.items():
        if not data.get(name, "").strip():
            data[name] = value
    return data


def one_user(base: str, user: int, rounds: int, deadline: float, record, prefix: str) -> None:
    browser = Browser(base, record)
    for round_ in range(rounds):
        if time.monotonic() > deadline:
            return
        status, page, _ = browser.request("form", "/")
        if status != 200:
            continue
        status, page, headers = browser.request(
            "submit", "/", fill(FormValues(page).values, user, round_, prefix)
        )
        if status != 303:
            if status == 422:
                record("submit", 0, "form refused: " + ", ".join(_errors(page))[:200])
            continue
        location = urllib.parse.urlsplit(headers.get("Location", "")).path
        browser.request("preview", location)
        browser.request("static", "/static/wizard.css")


def _errors(page: str) -> list[str]:
    return re.findall(r'<p class="error" id="([a-z_]+)-error">', page)


class Results:
    def __init__(self):
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self._lock = threading.Lock()

    def record(self, step: str, seconds: float, error: str | None) -> None:
        with self._lock:
            if error:
                self.errors[step][error] += 1
            else:
                self.times[step].append(seconds)

    def report(self) -> str:
        lines = [f"{'step':<8} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  errors"]
        for step in ("form", "submit", "preview", "static"):
            times = sorted(self.times.get(step, []))
            errors = sum(self.errors[step].values())
            if times:
                p50, p95 = percentile(times, 50), percentile(times, 95)
                lines.append(
                    f"{step:<8} {len(times):>6} {p50 * 1000:>8.0f} {p95 * 1000:>8.0f} "
                    f"{times[-1] * 1000:>8.0f}  {errors}"
                )
            else:
                lines.append(f"{step:<8} {0:>6} {'-':>8} {'-':>8} {'-':>8}  {errors}")
        for step, counter in self.errors.items():
            for error, count in counter.most_common(5):
                lines.append(f"  {step}: {count} x {error}")
        return "\n".join(lines)


def percentile(ordered: list[float], pct: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


def run_load(args) -> int:
    results = Results()
    deadline = time.monotonic() + args.max_seconds
    prefix = f"load{int(time.time()) % 100000}"
    threads = [
        threading.Thread(
            target=one_user,
            args=(args.url, user, args.rounds, deadline, results.record, prefix),
            daemon=True,
        )
        for user in range(args.users)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + TIMEOUT)
    elapsed = time.perf_counter() - started
    print(f"{args.users} users x {args.rounds} rounds against {args.url} in {elapsed:.1f} s")
    print(results.report())
    return 0 if not any(results.errors.values()) else 1


# Watching a stack.


class Recorder:
    """moto's request recorder on the sandbox: CloudFormation calls by action."""

    def __init__(self, sandbox: str):
        self.base = sandbox.rstrip("/") + "/moto-api/recorder/"

    def _call(self, what: str, method: str = "POST") -> bytes:
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self.base + what, data=data, method=method)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()

    def start(self) -> None:
        self._call("reset-recording")
        self._call("start-recording")

    def stop(self) -> Counter:
        self._call("stop-recording")
        text = self._call("download-recording", "GET").decode("utf-8", "replace")
        self._call("reset-recording")  # the recording holds request bodies: do not keep it
        actions: Counter = Counter()
        for line in text.splitlines():
            if line.strip():
                action = _cloudformation_action(json.loads(line))
                if action:
                    actions[action] += 1
        return actions


def _cloudformation_action(entry: dict) -> str | None:
    headers = {key.lower(): value for key, value in (entry.get("headers") or {}).items()}
    if "/cloudformation/aws4_request" not in headers.get("authorization", ""):
        return None
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    query = urllib.parse.parse_qs(body) or urllib.parse.parse_qs(
        urllib.parse.urlsplit(entry.get("url", "")).query
    )
    return (query.get("Action") or ["(unknown)"])[0]


def launch(base: str, prefix: str) -> str:
    """Fill, submit, acknowledge and launch; the stack page's path (with its query)."""
    results = Results()
    browser = Browser(base, results.record)
    _, page, _ = browser.request("form", "/")
    data = fill(FormValues(page).values, 0, 0, prefix)
    data["log_processing"] = "none"
    data["engine"] = "autopush-rs"
    status, page, headers = browser.request("submit", "/", data)
    if status != 303:
        raise SystemExit(f"the form was refused ({status}): {', '.join(_errors(page))}")
    preview = urllib.parse.urlsplit(headers["Location"]).path
    _, page, _ = browser.request("preview", preview)
    forms = [form for form in FormValues(page).forms if "launch" in form[2]]
    if not forms:
        raise SystemExit("the preview has no launch form: is the wizard's target reachable?")
    action, values, _ = forms[0]
    values["acknowledge"] = "y"
    status, page, headers = browser.request("launch", action, values)
    if status != 303:
        raise SystemExit(f"the launch failed ({status}): {re.sub(r'<[^>]+>', ' ', page)[:300]}")
    return urllib.parse.urlsplit(headers["Location"])._replace(scheme="", netloc="").geturl()


def watch_phase(base: str, api: str, viewers: int, seconds: float, recorder: Recorder):
    results = Results()
    stop = time.monotonic() + seconds

    def viewer():
        browser = Browser(base, results.record)
        while time.monotonic() < stop:
            browser.request("api", api)
            time.sleep(2)

    recorder.start()
    threads = [threading.Thread(target=viewer, daemon=True) for _ in range(viewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + TIMEOUT)
    actions = recorder.stop()
    times = sorted(results.times["api"])
    errors = sum(results.errors["api"].values())
    per_minute = sum(actions.values()) * 60 / seconds
    detail = ", ".join(f"{action} {count}" for action, count in actions.most_common())
    p95 = f"{percentile(times, 95) * 1000:.0f} ms" if times else "-"
    print(
        f"{viewers:>3} viewers: {len(times)} API polls (p95 {p95}, {errors} errors); "
        f"CloudFormation calls {per_minute:.1f}/min ({detail or 'none'})"
    )


def run_watch(args) -> int:
    if not args.sandbox:
        raise SystemExit("watch needs --sandbox URL (or PUSHSTACK_SANDBOX_URL): the moto server")
    loopback_only(args.sandbox)
    if args.stack:
        path = f"/stacks/{urllib.parse.quote(args.stack)}"
    else:
        path = launch(args.url, f"watch{int(time.time()) % 100000}")
        print(f"launched: {args.url}{path}")
    split = urllib.parse.urlsplit(path)
    api = "/api" + split.path + (f"?{split.query}" if split.query else "")
    recorder = Recorder(args.sandbox)
    for viewers in args.viewers:
        watch_phase(args.url, api, viewers, args.seconds, recorder)
    return 0


def loopback_only(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise SystemExit(f"cannot resolve {host!r}") from None
    if not addresses or not all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    ):
        raise SystemExit(f"{url}: only a wizard on this machine (a loopback address) is loaded")


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("load", "watch"), default="load")
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument(
        "--users", type=int, default=50, help=f"concurrent users (at most {MAX_USERS})"
    )
    parser.add_argument("--rounds", type=int, default=3, help="form-submit-preview rounds per user")
    parser.add_argument(
        "--max-seconds", type=float, default=300, help="stop starting rounds after this"
    )
    parser.add_argument("--sandbox", default=None, help="watch: the sandbox (moto server) URL")
    parser.add_argument("--stack", default=None, help="watch: an existing stack, not a new launch")
    parser.add_argument(
        "--viewers",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 20],
        help="watch: viewers of each phase, comma-separated (default 1,20)",
    )
    parser.add_argument("--seconds", type=float, default=60, help="watch: length of each phase")
    if argv and argv[0].startswith("http"):
        argv = ["load", *argv]
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS or not all(1 <= n <= MAX_USERS for n in args.viewers):
        parser.error(f"--users and --viewers: from 1 to {MAX_USERS}")
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds: from 1 to {MAX_ROUNDS}")
    if not 0 < args.max_seconds <= MAX_SECONDS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--max-seconds and --seconds: at most {MAX_SECONDS}")
    if args.mode == "watch" and not args.sandbox:
        args.sandbox = os.environ.get("PUSHSTACK_SANDBOX_URL")
    loopback_only(args.url)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_watch(args) if args.mode == "watch" else run_load(args)


if __name__ == "__main__":
    sys.exit(main())
