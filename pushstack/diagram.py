"""A picture of a template's resources and what each waits for, as inline SVG."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import shutil
import subprocess

import graphviz

from pushstack.graph import dependencies

TIMEOUT_SECONDS = 20
FONT = "Helvetica,Arial,sans-serif"  # generic families only: nothing to download

# Fill colours of the services a push stack uses; others get one from OTHER_COLOURS.
SERVICE_COLOURS = {
    "AutoScaling": "#fde2c4",
    "CloudFormation": "#e3e3f3",
    "CloudWatch": "#e7e0f5",
    "DynamoDB": "#cfe3fb",
    "EC2": "#fbd3d3",
    "ElastiCache": "#f8d0e6",
    "ElasticLoadBalancingV2": "#d8f0d2",
    "IAM": "#fff3b8",
    "KinesisFirehose": "#d4f1f1",
    "Lambda": "#f9c98f",
    "Logs": "#e6e6e6",
    "S3": "#efe4cf",
    "SecretsManager": "#eadcf8",
    "SSM": "#dde4ee",
}
OTHER_COLOURS = ("#f0e6d8", "#e0ecf4", "#f4e0ec", "#e8f4e0", "#ececec")


class DiagramUnavailable(RuntimeError):
    """The diagram cannot be drawn here; the message says what to do."""


def render_svg(template: dict) -> str:
    """The template's resources and dependencies as an ``<svg>`` element for inline HTML."""
    return _render_cached(json.dumps(template, default=str))


@functools.lru_cache(maxsize=32)
def _render_cached(template_json: str) -> str:
    template = json.loads(template_json)
    count = len(template.get("Resources", {}))
    label = f"Diagram of the template's {count} resources and what each waits for"
    return _embeddable(_run_dot(dot_source(template)), label)


def service(resource_type: str) -> str:
    """'AWS::DynamoDB::Table' -> 'DynamoDB'."""
    parts = resource_type.split("::")
    return parts[1] if len(parts) == 3 else parts[0]


def short_type(resource_type: str) -> str:
    """'AWS::DynamoDB::Table' -> 'DynamoDB::Table'."""
    return resource_type.removeprefix("AWS::")


def _colour(name: str) -> str:
    if name in SERVICE_COLOURS:
        return SERVICE_COLOURS[name]
    index = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(OTHER_COLOURS)
    return OTHER_COLOURS[index]


def dot_source(template: dict) -> str:
    """The DOT text: one box per resource, clustered by service, an arrow to what it waits for."""
    resources = template.get("Resources", {})
    diagram = graphviz.Digraph(
        "resources",
        graph_attr={
            "rankdir": "LR",
            "fontname": FONT,
            "fontsize": "12",
            "nodesep": "0.15",
            "ranksep": "0.6",
            "label": "An arrow goes from a resource to one it waits for.",
            "labelloc": "b",
        },
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11"},
        edge_attr={"color": "#777777", "arrowsize": "0.6"},
    )
    by_service: dict[str, list[str]] = {}
    for name, resource in resources.items():
        by_service.setdefault(service(str(resource.get("Type", ""))), []).append(name)
    for service_name, names in sorted(by_service.items()):
        with diagram.subgraph(name=f"cluster_{service_name}") as cluster:
            cluster.attr(
                label=service_name,
                style="rounded,dashed",
                color="#bbbbbb",
                fontcolor="#555555",
            )
            for name in names:
                resource_type = str(resources[name].get("Type", ""))
                cluster.node(
                    name,
                    label=f"{name}\\n{short_type(resource_type)}",
                    fillcolor=_colour(service_name),
                    color="#888888",
                )
    for name, waits_for in dependencies(template).items():
        for target in sorted(waits_for):
            diagram.edge(name, target)
    return diagram.source


def _run_dot(source: str) -> str:
    # graphviz's own pipe() has no timeout, so dot is run here with one.
    dot = shutil.which("dot")
    if dot is None:
        raise DiagramUnavailable(
            "Graphviz is not installed: install it (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz) so the `dot` command is on the PATH, "
            "then reload this page."
        )
    try:
        done = subprocess.run(  # noqa: S603 (fixed command; the template is only its input)
            [dot, "-Tsvg"],
            input=source,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DiagramUnavailable(
            f"Graphviz took longer than {TIMEOUT_SECONDS} seconds to draw the diagram."
        ) from None
    if done.returncode != 0:
        raise DiagramUnavailable(f"Graphviz could not draw the diagram: {done.stderr.strip()}")
    return done.stdout


def _embeddable(svg: str, label: str) -> str:
    """The bare ``<svg>`` element, scaling to its container's width, named for screen readers."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    head_end = svg.index(">")
    head = svg[:head_end]
    head = re.sub(r'\swidth="[^"]*"', ' width="100%"', head, count=1)
    head = re.sub(r'\sheight="[^"]*"', "", head, count=1)
    if "xlink:" not in svg[head_end:]:
        head = head.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    if "preserveAspectRatio" not in head:
        head += ' preserveAspectRatio="xMidYMin meet"'
    head += f' role="img" aria-label="{html.escape(label)}"'
    return head + svg[head_end:]
