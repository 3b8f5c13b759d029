"""The wizard's door to the cloud: one target per process, built on first use, and
the progress of each watched stack, shared by every browser that watches it.

CloudFormation holds all the state; this module only keeps, per process, the
target (AWS or the sandbox), one ``Cloud`` per region, a few seconds of each
stack's progress and a minute of the account's network choices. However many
browsers poll a stack, and however many worker processes serve them, the wizard
asks AWS for its events at most once per ``PROGRESS_INTERVAL_SECONDS`` (the
processes share the answer through files: ``webapp.shared_progress``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, request
from werkzeug.exceptions import SecurityError

from pushstack.cloud import Cloud, CloudError, Target, resolve_target
from webapp.limits import RATE_LIMITED, charge_aws_call
from webapp.shared_progress import ProgressFiles

TARGET_RETRY_SECONDS = 30


@dataclass(frozen=True)
class _Entry:
    fetched: float
    value: object = None
    error: CloudError | None = None
    lifetime: float = 0.0


def _given_stale(fetch: Callable[..., object], mine: object) -> Callable[..., object]:
    """``fetch`` for a store that may hand it a newer stale value than this process's."""

    def fetch_since(stale: object = None) -> object:
        return fetch(stale if stale is not None else mine)

    fetch_since.takes_stale = True
    return fetch_since


class SharedCache:
    """Values by key, fetched at most once per ``interval`` however many threads ask.

    A failure is kept like a value, so a throttled or unreachable target is not
    asked again by every waiting browser.
    """

    def __init__(self, interval: float, max_entries: int = 1000, clock=time.monotonic, store=None):
        self.interval = interval
        self.max_entries = max_entries
        self._clock = clock
        # Shared with the other worker processes (webapp.shared_progress.ProgressFiles):
        # a fetch is made by one process per interval, the others read its answer.
        self.store = store
        self._entries: dict[object, _Entry] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(
        self,
        key,
        fetch: Callable[..., object],
        keep_for: Callable[[object], float] | None = None,
        *,
        with_stale: bool = False,
    ):
        """The value of ``key``, fetched when older than ``interval`` (or, for a value,
        than ``keep_for(value)`` seconds: e.g. longer for an operation that ended).
        With ``with_stale``, ``fetch`` is given the last value any process fetched (None
        if there is none), so it can ask AWS only for what is new since."""
        entry = self._fresh(key)
        if entry is None:
            with self._lock_for(key):
                entry = self._fresh(key)  # another thread may have fetched it meanwhile
                if entry is None:
                    if with_stale:
                        mine = self._entries.get(key)
                        fetch = _given_stale(fetch, mine.value if mine else None)
                    entry = self._fetch(key, fetch, keep_for)
        if entry.error is not None:
            raise entry.error
        return entry.value

    def forget(self, key) -> None:
        """Drop a key, so that the next ``get`` asks again (after a launch, a delete...)."""
        with self._guard:
            self._entries.pop(key, None)
        if self.store is not None:
            self.store.forget(key)

    def _fresh(self, key) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.fetched < entry.lifetime:
            return entry
        return None

    def _lifetime(self, result, keep_for) -> float:
        if isinstance(result, CloudError) or keep_for is None:
            return self.interval
        return max(self.interval, keep_for(result))

    def _fetch(self, key, fetch, keep_for=None) -> _Entry:
        if self.store is not None and self.store.usable():
            # A rate-limit refusal propagates from the store's fetch, written for no one.
            value, error, age, lifetime = self.store.fetch(
                key, fetch, lambda result: self._lifetime(result, keep_for)
            )
            # As old here as in the file: every process asks again at the same moment.
            entry = _Entry(self._clock() - age, value=value, error=error, lifetime=lifetime)
        else:
            try:
                value = fetch()
            except CloudError as exc:
                if exc.code == RATE_LIMITED:
                    raise  # one client's bound, not an answer to share with the others
                entry = _Entry(self._clock(), error=exc, lifetime=self.interval)
            else:
                entry = _Entry(self._clock(), value=value, lifetime=self._lifetime(value, keep_for))
        with self._guard:
            self._entries[key] = entry
            if len(self._entries) > self.max_entries:
                oldest = min(self._entries, key=lambda k: self._entries[k].fetched)
                self._entries.pop(oldest, None)
                self._locks.pop(oldest, None)
        return entry

    def _lock_for(self, key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class CloudAccess:
    """The live target of this process, its clouds by region, and the shared caches."""

    def __init__(self, config):
        self._config = config
        self._target: Target | None = None
        self._target_error: tuple[float, CloudError] | None = None
        self._clouds: dict[str, Cloud] = {}
        self._lock = threading.Lock()
        # Striped locks: operations on one stack in this process run one at a time.
        self._operation_locks = tuple(threading.Lock() for _ in range(64))
        shared = config.get("PROGRESS_SHARED_DIR")
        self.progress = SharedCache(
            config["PROGRESS_INTERVAL_SECONDS"], store=ProgressFiles(shared) if shared else None
        )
        self.choices = SharedCache(config["ACCOUNT_CHOICES_SECONDS"], max_entries=50)
        # Whether a stack is pushstack's (or unknown: cached as the error), by target, region
        # and name; shared by the processes like progress (the answer is the stack's id).
        self.ownership = SharedCache(
            config["OWNERSHIP_SECONDS"],
            store=ProgressFiles(Path(shared) / "ownership", encode=str, decode=str)
            if shared
            else None,
        )
        # The account's vCPU quota, today's AMI, a failure queue's depth (webapp.checks).
        self.checks = SharedCache(config["ACCOUNT_CHECKS_SECONDS"], max_entries=500)

    def target(self) -> Target:
        """The target, resolved once; a failure is remembered for a short while, so
        that a missing target does not cost every page a slow attempt."""
        with self._lock:
            if self._target is not None:
                return self._target
            failed_at, error = self._target_error or (None, None)
            if error is not None and time.monotonic() - failed_at < TARGET_RETRY_SECONDS:
                raise error
            try:
                target = resolve_target(
                    self._config.get("TARGET") or None,
                    sandbox_url=self._config.get("SANDBOX_URL") or None,
                )
                if target.is_sandbox:
                    _seed_own_region(target)
            except CloudError as exc:
                self._target_error = (time.monotonic(), exc)
                raise
            except (RuntimeError, OSError) as exc:  # the sandbox did not start
                error = CloudError(
                    f"The sandbox could not be started: {exc}",
                    "Start one with `.venv/bin/python -m pushstack.sandbox` and set "
                    "PUSHSTACK_SANDBOX_URL to the URL it prints, or give AWS credentials.",
                )
                self._target_error = (time.monotonic(), error)
                raise error from exc
            self._target = target
            return self._target

    def cloud(self, region: str | None = None) -> Cloud:
        target = self.target()
        region = region or target.region
        with self._lock:
            if region not in self._clouds:
                self._clouds[region] = Cloud(target, region, before_call=charge_aws_call)
            return self._clouds[region]

    def operation_lock(self, key: str) -> threading.Lock:
        """A lock per stack (or launch): a double click waits for the first click's call,
        then finds its stack, instead of racing it."""
        digest = hashlib.sha256(key.encode()).digest()
        return self._operation_locks[digest[0] % len(self._operation_locks)]

    def watch(self, name: str, region: str | None = None):
        """The stack's progress, fetched at most once per interval for all watchers;
        an operation that ended is kept longer (``PROGRESS_FINISHED_SECONDS``): nothing
        moves until the next one, which this process forgets the cache for (``changed``)
        and the stack page checks against the stack's own status."""
        cloud = self.cloud(region)
        finished = float(self._config["PROGRESS_FINISHED_SECONDS"])
        # Any process's last answer goes with the fetch: the process asking AWS this time
        # then reads only the events that are new since, whichever process read the rest.
        return self.progress.get(
            self._progress_key(cloud.region, name),
            lambda previous: cloud.progress(name, previous=previous),
            keep_for=lambda progress: finished if progress.finished else 0.0,
            with_stale=True,
        )

    def changed(self, name: str, region: str | None = None) -> None:
        """Forget a stack's cached progress (and ownership: a launch makes an unknown name
        known) after starting an operation on it."""
        region = region or self.target().region
        self.progress.forget(self._progress_key(region, name))
        self.ownership.forget(("owner", *self._progress_key(region, name)))

    def owned(self, name: str, region: str | None = None) -> str:
        """The id of pushstack's stack ``name``; a ``CloudError`` for an unknown or foreign
        one. Cached ``OWNERSHIP_SECONDS``, answers and errors alike (issue 16 items 2, 4);
        a stack found to be pushstack's ``OWNERSHIP_KNOWN_SECONDS`` (its tags are set when
        it is made, and every change checks again, uncached), so watching it costs the
        wizard one DescribeStacks a minute, however many processes and viewers."""
        cloud = self.cloud(region)
        known = float(self._config["OWNERSHIP_KNOWN_SECONDS"])
        return self.ownership.get(
            ("owner", *self._progress_key(cloud.region, name)),
            lambda: cloud.owned(name),
            keep_for=lambda _: known,
        )

    def checked(self, what: str, region: str | None, fetch: Callable[[Cloud], object]):
        """``fetch(cloud)`` of the region, asked at most once per ``ACCOUNT_CHECKS_SECONDS``
        for every browser (its failure too); ``what`` names it within the region."""
        cloud = self.cloud(region)
        key = ("check", what, *self._progress_key(cloud.region, ""))
        return self.checks.get(key, lambda: fetch(cloud))

    def _progress_key(self, region: str, name: str) -> tuple:
        """A stack's key, with its target: processes share the cache through files, and two
        wizards of one user (an AWS one and a sandbox one) must not read each other's."""
        target = self.target()
        return (target.kind, target.endpoint_url or "", target.account_id or "", region, name)

    def account_choices(self, region: str | None = None):
        """The account's VPCs, subnets, key pairs and certificates; cached a minute."""
        cloud = self.cloud(region)
        return self.choices.get(("choices", cloud.region), cloud.account_choices)

    def sandbox_network(self, region: str | None = None, *, seed: bool = False):
        """The sandbox's seeded network (None for AWS, or not seeded), to pre-fill the form.

        Only a POST seeds a region (``seed``, issue 16 item 4): a GET, which any page can
        make a browser send, only looks. The target's own region is seeded when the
        target is first resolved (``target``)."""
        cloud = self.cloud(region)
        key = ("network", cloud.region)
        if seed and cloud.target.is_sandbox:
            network = cloud.sandbox_network(seed=True)
            if self.choices.get(key, lambda: network) != network:
                self.choices.forget(key)  # it was not there when last looked at
                self.choices.forget(("choices", cloud.region))
                self.choices.get(key, lambda: network)
            return network
        return self.choices.get(key, lambda: cloud.sandbox_network(seed=False))


def _seed_own_region(target: Target) -> None:
    """The sandbox's own region, once per process whatever request came first: the form
    starts with that network. Any other region is seeded by a POST only."""
    # On failure the form offers what the sandbox holds; a launch seeds it again.
    with contextlib.suppress(CloudError):
        Cloud(target).sandbox_network(seed=True)


def init_app(app) -> None:
    app.config.setdefault("TARGET", "auto")
    app.config.setdefault("SANDBOX_URL", None)
    app.config.setdefault("PROGRESS_INTERVAL_SECONDS", 2.0)
    app.config.setdefault("PROGRESS_FINISHED_SECONDS", 10.0)
    # The folder (mode 0700) where worker processes share stacks' progress ("": each its own).
    app.config.setdefault(
        "PROGRESS_SHARED_DIR",
        str(Path(tempfile.gettempdir()) / f"pushstack-progress-{os.getuid()}"),
    )
    app.config.setdefault("ACCOUNT_CHOICES_SECONDS", 60.0)
    app.config.setdefault("OWNERSHIP_SECONDS", 5.0)
    app.config.setdefault("OWNERSHIP_KNOWN_SECONDS", 60.0)
    app.config.setdefault("ACCOUNT_CHECKS_SECONDS", 30.0)
    app.extensions["pushstack_cloud"] = CloudAccess(app.config)
    app.context_processor(_header)


def get_access() -> CloudAccess:
    return current_app.extensions["pushstack_cloud"]


def target_label() -> str:
    """What the page header says about the live target ("" for none); never raises."""
    from webapp import auth

    if isinstance(request.routing_exception, SecurityError) or auth.peer_refusal():
        # A Host the wizard does not answer to (DNS rebinding), another machine or an
        # unnamed proxy's client: the refusal page names neither target nor account.
        return ""
    if not auth.signed_in():
        return "sign in to see it"  # the account is not for whoever reaches the sign-in page
    try:
        target = get_access().target()
    except CloudError as exc:
        return f"No target: {exc.message}"
    account = f", account {target.account_id}" if target.account_id else ""
    return f"{target.label}{account}"


def _header() -> dict:
    return {"target_label": target_label}
