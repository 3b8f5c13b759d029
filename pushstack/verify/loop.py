"""Running the clients' coroutines from plain, blocking code.

The command line and the wizard's request threads have no event loop, so
``asyncio.run`` serves them. A caller whose thread already runs a loop (a notebook,
or a program driving a browser through Playwright's sync API) cannot nest
``asyncio.run``: the coroutine then runs on a loop of its own in a short-lived thread,
and its result or exception comes back as if it had run here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[object, object, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: the usual case
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
