"""The load probe's bounds, apart from the client so that the command line's help
reads them without loading it."""

from __future__ import annotations

MAX_CLIENTS = 1000
MAX_SECONDS = 300
MAX_RATE = 200  # pushes per second
DEFAULT_RATE = 10


class ProbeLimitError(ValueError):
    """A client count, duration or rate outside the probe's bounds."""


def check_limits(clients: int, seconds: float, rate: float | None = None) -> None:
    problems = []
    if not 1 <= clients <= MAX_CLIENTS:
        problems.append(
            f"--clients must be from 1 to {MAX_CLIENTS} (got {clients}): each holds a "
            "WebSocket from this machine"
        )
    if not 1 <= seconds <= MAX_SECONDS:
        problems.append(f"--seconds must be from 1 to {MAX_SECONDS} (got {seconds:g})")
    if rate is not None and not 0 < rate <= MAX_RATE:
        problems.append(f"--rate must be above 0 and at most {MAX_RATE} pushes/s (got {rate:g})")
    if problems:
        raise ProbeLimitError("; ".join(problems))
