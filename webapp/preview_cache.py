"""Each template shape's preview artifacts, rendered once per process and reused.

``build_template`` reads the options' shape (which parts the stack has: log
processing, TLS, SSH, reused tables, ...), never their values: every value
reaches the stack as a CloudFormation parameter. So two forms of the same
shape give the same template text, and with it the same JSON and YAML files,
highlighting, summary, diagram and cfn-lint findings. Those are rendered once
per shape (cold: a few seconds of CPU, mostly cfn-lint) and then served from
memory. Only the parameters file, the one artifact with values (and the crypto
key), is made per request, and never kept here.

Cold renders are bounded: one render per shape however many requests want it
at once, and at most ``max_cold_renders`` shapes at a time; a request that
waits too long gets ``Busy`` (a "try again" page), not an unbounded queue.
cfn-lint, the costliest part (about 3.5 s of CPU for all regions), runs off the
request path in ``Background``: one at a time per process, shared between
processes by ``pushstack.lint``'s files; the page shows its findings once ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from pushstack.options import SPECS, Options

# Where the stack goes, not what it is: no region or stack name is written
# into the template (tests/test_preview_cache.py checks it).
NOT_IN_TEMPLATE = ("stack_name", "region")

T = TypeVar("T")


def shape_key(options: Options) -> tuple:
    """What ``build_template`` can branch on; never the crypto key.

    An option passed as a CloudFormation parameter counts only as given or not
    (a given certificate means TLS listeners); an option without a parameter
    can only change the template by its value (log processing, reused tables).
    """
    key = []
    for name, spec in SPECS.items():
        if spec.kind == "secret" or name in NOT_IN_TEMPLATE:
            continue
        value = getattr(options, name)
        if spec.parameter is None or name == "engine":  # the engine's parameter is fixed
            key.append((name, value))
        else:
            key.append((name, options.applies(name) and value not in (None, "", (), False)))
    return tuple(key)


class Busy(Exception):
    """Too many cold renders already running: the caller should try again shortly."""


class _Pending:
    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None


class ShapeCache(Generic[T]):
    """A bounded LRU of rendered artifacts, with single-flight, bounded cold renders."""

    def __init__(self, max_shapes: int = 32, max_cold_renders: int = 2, wait_seconds: float = 30):
        self.max_shapes = max_shapes
        self.wait_seconds = wait_seconds
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._pending: dict[Hashable, _Pending] = {}
        self._lock = threading.Lock()
        self._cold = threading.BoundedSemaphore(max_cold_renders)
        self.renders = 0  # cold renders done, for tests and benchmarks

    def get(self, key: Hashable, render: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``render()``'s, made once however many ask."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = _Pending()
        if not owner:
            if not pending.done.wait(self.wait_seconds):
                raise Busy
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            if not self._cold.acquire(timeout=self.wait_seconds):
                raise Busy
            try:
                value = render()
            finally:
                self._cold.release()
            with self._lock:
                self.renders += 1
                self._entries[key] = value
                while len(self._entries) > self.max_shapes:
                    self._entries.popitem(last=False)
            pending.value = value
            return value
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self._pending.pop(key, None)
            pending.done.set()

    def __len__(self) -> int:
        return len(self._entries)


class Background(Generic[T]):
    """Results computed off the request path, one at a time, kept for the newest keys."""

    def __init__(self, max_entries: int = 32, workers: int = 1, max_queued: int = 4):
        self.max_entries = max_entries
        self.max_queued = max_queued  # beyond this, new work waits for a later request
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._futures: OrderedDict[Hashable, Future] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], wait: float = 0) -> T | None:
        """The result for ``key`` if ready within ``wait`` seconds; else None, and it is on its way."""
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                if sum(not f.done() for f in self._futures.values()) >= self.max_queued:
                    return None  # swamped (many new shapes at once): no unbounded queue
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self._workers, thread_name_prefix="pushstack-background"
                    )
                future = self._futures[key] = self._executor.submit(compute)
                while len(self._futures) > self.max_entries:
                    self._futures.popitem(last=False)
            else:
                self._futures.move_to_end(key)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            return None
