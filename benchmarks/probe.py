"""How far the load probe itself goes on this machine: its own ceiling.

Runs ``pushstack verify``'s probe against the tests' stand-in push server
(tests/pushserver.py, in a process of its own on 127.0.0.1) for a few client
counts and rates, and prints what the probe measured. Against a real stack,
figures near these mean the machine running the probe is the limit, not the
stack.

    .venv/bin/python benchmarks/probe.py [--seconds 5] [--shapes 10x10,200x50,1000x200]

Each shape is CLIENTSxRATE (pushes per second).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout, without installing

from pushstack.verify import probe, targets  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--shapes", default="10x10,200x50,1000x200")
    args = parser.parse_args(argv)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "pushserver.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT / "tests",
    )
    try:
        urls = targets.from_outputs(json.loads(server.stdout.readline()))
        # "+s": the time beyond the sending seconds (opening, the last deliveries, closing).
        print(f"{'clients':>7} {'rate/s':>6} {'+s':>6} {'held':>5} {'sent':>6} "
              f"{'deliv.':>6} {'lost':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")  # fmt: skip
        for shape in args.shapes.split(","):
            clients, rate = (int(part) for part in shape.split("x"))
            started = time.perf_counter()
            result = probe.run_probe(urls, clients=clients, seconds=args.seconds, rate=rate)
            extra = time.perf_counter() - started - args.seconds
            p50, p95, p99 = (result.percentile(p) or 0.0 for p in (50, 95, 99))
            print(
                f"{clients:>7} {rate:>6} {extra:>6.1f} {result.held:>5} {result.sent:>6} "
                f"{result.delivered:>6} {result.lost:>5} {p50:>7.1f} {p95:>7.1f} {p99:>7.1f}"
            )
    finally:
        server.stdin.close()  # the stand-in stops when its input closes
        server.wait(10)
        server.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
