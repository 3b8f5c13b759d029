"""Dependencies between a template's resources: Ref, GetAtt, Sub and DependsOn."""

from __future__ import annotations

import re

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _references(node: object, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found.update(name for name in _SUB_NAME.findall(text) if name not in variables)
                _references(variables, found)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def dependencies(template: dict) -> dict[str, set[str]]:
    """For each resource, the resources it waits for."""
    resources = template.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        _references(resource.get("Properties", {}), found)
        _references(resource.get("Metadata", {}), found)
        depends_on = resource.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        graph[name] = {target for target in found if target in resources and target != name}
    return graph


def critical_path(template: dict, seconds: dict[str, float]) -> tuple[float, list[str]]:
    """Longest chain of creation times through the dependency graph.

    ``seconds`` maps a resource type to its typical creation time; unknown
    types count as ``seconds.get("default", 5)``.
    """
    resources = template.get("Resources", {})
    graph = dependencies(template)
    done: dict[str, tuple[float, list[str]]] = {}

    def finish(name: str) -> tuple[float, list[str]]:
        if name not in done:
            own = seconds.get(resources[name]["Type"], seconds.get("default", 5.0))
            before = max((finish(dep) for dep in graph[name]), default=(0.0, []))
            done[name] = (before[0] + own, [*before[1], name])
        return done[name]

    return max((finish(name) for name in resources), default=(0.0, []))
