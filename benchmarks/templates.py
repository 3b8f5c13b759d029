"""How big and how slow each shape of the Push stack is.

For each variant of the template (log processing none / firehose / processor,
and processor with TLS and SSH) this builds the template many times and prints:
the median build time, the JSON size against CloudFormation's inline limit,
the resource and parameter counts against theirs, and an estimate of the
creation time along the critical path of the dependency graph, with that path,
so a reader sees what a new stack waits on.

    .venv/bin/python benchmarks/templates.py [--runs 50] [--json]

With --json the machine-readable result goes to stdout and the table to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout, without installing

from pushstack import render  # noqa: E402
from pushstack.graph import TYPICAL_CREATE_SECONDS, critical_path  # noqa: E402
from pushstack.options import from_input  # noqa: E402
from pushstack.template import build_template  # noqa: E402

# Typical creation time of one resource of each type (shared with the sandbox's pacing),
# and of the image build, timed apart from other custom resources: the custom resource
# whose build (autoconnect and autoendpoint, two Rust release builds from scratch on
# BUILD_GENERAL1_LARGE) answers it, about 30 minutes.
IMAGE_BUILD = "pushstack::ImageBuild"
SECONDS = {**TYPICAL_CREATE_SECONDS, IMAGE_BUILD: 1800}

_BASE = {
    "stack_name": "autopush-bench",
    "region": "us-east-1",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
}
_PROCESSOR = {
    "log_processing": "processor",
    "private_subnet_ids": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
    "messages_api_subnet_id": "subnet-0123456789abcdef2",
}
_LEGACY = {**_BASE, "engine": "autopush-legacy"}
VARIANTS = {
    "rs": {**_BASE, "engine": "autopush-rs"},
    "rs+images-given": {
        **_BASE,
        "engine": "autopush-rs",
        "autoconnect_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/push:autoconnect-1.83.1",
        "autoendpoint_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/push:autoendpoint-1.83.1",
    },
    "none": _LEGACY,
    "firehose": {**_LEGACY, "log_processing": "firehose"},
    "processor": {**_LEGACY, **_PROCESSOR},
    "processor+tls+ssh": {
        **_LEGACY,
        **_PROCESSOR,
        "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/"
        "12345678-1234-1234-1234-123456789012",
        "key_name": "ops",
        "ssh_cidr": "203.0.113.0/24",
        "endpoint_hostname": "updates.push.example.com",
        "websocket_hostname": "push.example.com",
        "messages_api_hostname": "messages.push.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    },
}


def measure(name: str, data: dict, runs: int) -> dict:
    """Build one variant ``runs`` times and describe the result."""
    options = from_input(data)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        template = build_template(options)
        timings.append(time.perf_counter() - start)
    as_dict = render.to_dict(template)
    pretty = len(render.to_json(template, indent=2).encode())
    minified = len(render.to_json(template, indent=None).encode())
    resources = as_dict.get("Resources", {})
    if "ImageBuild" in resources:  # answered by the build, not by its function
        resources["ImageBuild"] = {**resources["ImageBuild"], "Type": IMAGE_BUILD}
    total, path = critical_path(as_dict, SECONDS)
    steps = []
    for logical_id in path:
        kind = resources[logical_id]["Type"]
        steps.append(
            {
                "logical_id": logical_id,
                "type": kind,
                "seconds": SECONDS.get(kind, SECONDS["default"]),
            }
        )
    return {
        "variant": name,
        "build_ms_median": statistics.median(timings) * 1000,
        "json_bytes": pretty,
        "json_percent_of_inline_limit": 100 * pretty / render.INLINE_TEMPLATE_LIMIT,
        "minified_bytes": minified,
        "minified_percent_of_inline_limit": 100 * minified / render.INLINE_TEMPLATE_LIMIT,
        "resources": len(resources),
        "parameters": len(as_dict.get("Parameters", {})),
        "critical_path_seconds": total,
        "critical_path": steps,
    }


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def table(results: list[dict], runs: int) -> str:
    limit = render.INLINE_TEMPLATE_LIMIT
    header = (
        f"{'variant':<18} {'build ms':>9} {'JSON (indent=2)':>17} {'minified':>16} "
        f"{'resources':>10} {'params':>8} {'create est.':>11}"
    )
    lines = [
        f"Template builds: median of {runs} runs; sizes against the {limit:,}-byte "
        f"inline limit; resources of {render.RESOURCES_LIMIT}, parameters of "
        f"{render.PARAMETERS_LIMIT}.",
        "",
        header,
        "-" * len(header),
    ]
    for r in results:
        lines.append(
            f"{r['variant']:<18} {r['build_ms_median']:>9.1f} "
            f"{r['json_bytes']:>8,} {r['json_percent_of_inline_limit']:>6.1f}% "
            f"{r['minified_bytes']:>8,} {r['minified_percent_of_inline_limit']:>5.1f}% "
            f"{r['resources']:>5}/{render.RESOURCES_LIMIT} "
            f"{r['parameters']:>4}/{render.PARAMETERS_LIMIT} "
            f"{_minutes(r['critical_path_seconds']):>11}"
        )
    notes = []
    for r in results:
        if r["minified_bytes"] > limit:
            notes.append(f"{r['variant']}: over the inline limit even minified: needs S3.")
        elif r["json_bytes"] > limit:
            notes.append(f"{r['variant']}: over the inline limit with indent=2; fits minified.")
    if any(r["variant"].startswith("processor") for r in results):
        # Not in the graph: what boots alongside Redis and waits for its address.
        notes.append(
            "processor: the Messages API nodes wait for Redis's address themselves (not "
            "in CloudFormation), so they finish within seconds after Redis; the settings "
            "writer runs once Redis exists. Redis, a one-node replication group, is "
            "counted like the store's two-node one: an upper estimate."
        )
    if notes:
        lines += ["", *notes]
    for r in results:
        lines.append(f"\nCritical path, {r['variant']} ({_minutes(r['critical_path_seconds'])}):")
        elapsed = 0
        for step in r["critical_path"]:
            elapsed += step["seconds"]
            lines.append(
                f"  {step['seconds']:>4} s  (at {_minutes(elapsed):>6})  "
                f"{step['logical_id']}  [{step['type']}]"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="builds per variant (default 50)")
    parser.add_argument(
        "--json", action="store_true", help="JSON to stdout (the table goes to stderr)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    results = [measure(name, data, args.runs) for name, data in VARIANTS.items()]
    text = table(results, args.runs)
    if args.json:
        print(text, file=sys.stderr)
        document = {
            "runs": args.runs,
            "limits": {
                "inline_template_bytes": render.INLINE_TEMPLATE_LIMIT,
                "resources": render.RESOURCES_LIMIT,
                "parameters": render.PARAMETERS_LIMIT,
            },
            "seconds_by_type": SECONDS,
            "variants": results,
        }
        print(json.dumps(document, indent=2))
    else:
        print(text)


if __name__ == "__main__":
    main()
