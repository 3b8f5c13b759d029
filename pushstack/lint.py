"""cfn-lint's findings on a template, run in-process and cached per template text.

The template names no region, so one run over every region serves a stack in
any of them: a finding about some regions only names them in its message, and
``for_region`` keeps the ones that concern a given region.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cfnlint.api import ManualArgs, lint

from pushstack.options import REGIONS

# Every region the wizard offers, in one run: about 3.5 s of CPU for the
# processor template against 2.8 s for one region, and each template shape is
# linted once per process (webapp/preview_cache.py), whatever its region.
DEFAULT_REGIONS: tuple[str, ...] = REGIONS
_REGION_NAME = re.compile(r"\b[a-z]{2}(?:-gov)?-[a-z]+-[0-9]\b")

_LEVELS = {"E": "error", "W": "warning", "I": "informational"}
_ORDER = {"error": 0, "warning": 1, "informational": 2}


@dataclass(frozen=True)
class Finding:
    """One thing cfn-lint found: its rule, how serious, what, and where."""

    rule: str
    level: str  # error | warning | informational
    message: str
    path: str  # e.g. "Resources/ConnectionNodes/Properties/LaunchTemplate"; "" for the whole
    regions: tuple[str, ...] = ()  # the regions it concerns, when not all (named in the message)


def for_region(found: Iterable[Finding], region: str) -> list[Finding]:
    """The findings that concern a stack in ``region``: those of every region, and its own."""
    return [finding for finding in found if not finding.regions or region in finding.regions]


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
    named = sorted(set(_REGION_NAME.findall(match.message)))
    return Finding(
        rule=rule,
        level=_LEVELS.get(rule[:1].upper(), "error"),
        message=match.message,
        path="/".join(str(part) for part in path),
        regions=tuple(named),
    )
