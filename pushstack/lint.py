"""cfn-lint's findings on a template, run in-process and cached per template text.

The template names no region, so one run over every region serves a stack in
any of them: a finding about some regions only names them in its message, and
``for_region`` keeps the ones that concern a given region.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cfnlint.api import ManualArgs, lint
from cfnlint.version import __version__ as CFN_LINT_VERSION

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


def findings(
    template_json: str, regions: Iterable[str] = DEFAULT_REGIONS, *, shared_dir: Path | None = None
) -> list[Finding]:
    """cfn-lint's findings, errors first; never raises.

    The same text and regions give the same list object back: do not modify it.
    With ``shared_dir``, processes share the work through files there: the first
    to need a template's findings lints it while the others wait for its file.
    """
    return _cached_findings(template_json, tuple(regions), shared_dir)


@functools.lru_cache(maxsize=64)
def _cached_findings(
    template_json: str, regions: tuple[str, ...], shared_dir: Path | None
) -> list[Finding]:
    if shared_dir is None:
        return _lint(template_json, regions)
    return _shared_findings(template_json, regions, Path(shared_dir))


def _shared_findings(template_json: str, regions: tuple[str, ...], folder: Path) -> list[Finding]:
    """Findings through a file named by the text, the regions and cfn-lint's version.

    The template holds no secret (no option value at all), so neither does the file.
    """
    key = json.dumps([CFN_LINT_VERSION, regions, template_json])
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        return _lint(template_json, regions)  # not ours: trust no file in it
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process lints; the others wait, then read
        try:
            return [
                Finding(**{**item, "regions": tuple(item["regions"])})
                for item in json.loads(path.read_text())
            ]
        except (OSError, ValueError, TypeError, KeyError):
            pass
        result = _lint(template_json, regions)
        if not any(finding.rule == "E0002" for finding in result):  # keep no crash for good
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps([dataclasses.asdict(finding) for finding in result]))
            partial.replace(path)
        return result


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
