"""cfn-lint's findings on a template, run in-process and cached per template text."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from cfnlint.api import ManualArgs, lint

# The regions linted unless the caller names its own (the wizard passes the
# stack's region). Three far-apart regions cost no more than one (about 1.5 s
# of CPU for the processor template); all 29 of options.REGIONS cost about
# 1.7-2.3 s: checking them all belongs in a slow test, not in every preview.
DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-1")

_LEVELS = {"E": "error", "W": "warning", "I": "informational"}
_ORDER = {"error": 0, "warning": 1, "informational": 2}


@dataclass(frozen=True)
class Finding:
    """One thing cfn-lint found: its rule, how serious, what, and where."""

    rule: str
    level: str  # error | warning | informational
    message: str
    path: str  # e.g. "Resources/ConnectionNodes/Properties/LaunchTemplate"; "" for the whole


def findings(template_json: str, regions: Iterable[str] = DEFAULT_REGIONS) -> list[Finding]:
    """cfn-lint's findings, errors first; never raises.

    The same text and regions give the same list object back: do not modify it.
    """
    return _cached_findings(template_json, tuple(regions))


@functools.lru_cache(maxsize=64)
def _cached_findings(template_json: str, regions: tuple[str, ...]) -> list[Finding]:
    return _lint(template_json, regions)


clear_cache = _cached_findings.cache_clear


def _lint(template_json: str, regions: tuple[str, ...]) -> list[Finding]:
    try:
        matches = lint(template_json, config=ManualArgs(regions=list(regions)))
    except Exception as exc:  # cfn-lint's own failure must not take the preview page down
        return [Finding("E0002", "error", f"cfn-lint failed on this template: {exc}", "")]
    parse_errors = [match for match in matches if match.rule.id == "E0000"]
    if parse_errors:
        first = parse_errors[0]
        where = f"line {first.linenumber}, column {first.columnnumber}"
        message = f"cfn-lint cannot read this template: {first.message}"
        return [Finding("E0000", "error", message, where)]
    result = {_finding(match) for match in matches}
    return sorted(result, key=lambda f: (_ORDER.get(f.level, 3), f.path, f.rule, f.message))


def _finding(match) -> Finding:
    rule = match.rule.id
    path = getattr(match, "path", None) or []
    return Finding(
        rule=rule,
        level=_LEVELS.get(rule[:1].upper(), "error"),
        message=match.message,
        path="/".join(str(part) for part in path),
    )
