"""What a verification found, step by step, in words an operator acts on.

A step either passed (with its latency and a detail) or failed: then it says
what was expected, what came back, and what to check. The same report is
printed by the command line and shown on the stack's page (``as_dict``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass
class Step:
    name: str
    title: str
    ok: bool
    milliseconds: float
    detail: str = ""
    expected: str = ""
    got: str = ""
    advice: str = ""


@dataclass
class Report:
    websocket_url: str
    endpoint_url: str
    started: float = field(default_factory=time.time)
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failure(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "websocket_url": self.websocket_url,
            "endpoint_url": self.endpoint_url,
            "started": self.started,
            "steps": [asdict(step) for step in self.steps],
        }

    def lines(self) -> list[str]:
        """The report as the command line prints it."""
        out = [f"Push round trip: {self.websocket_url} and {self.endpoint_url}"]
        for number, step in enumerate(self.steps, 1):
            mark = "ok  " if step.ok else "FAIL"
            line = f"{number:2}. {mark} {step.title:<48} {step.milliseconds:8.1f} ms"
            if step.ok and step.detail:
                line += f"  {step.detail}"
            out.append(line)
            if not step.ok:
                out.append(f"      expected: {step.expected}")
                out.append(f"      got:      {step.got}")
                out.append(f"      check:    {step.advice}")
        out.append(
            "The stack delivers pushes: every step passed."
            if self.ok
            else f"The round trip stopped at: {self.failure.title}."
            if self.failure
            else "Nothing was checked."
        )
        return out


def from_dict(data: dict) -> Report:
    """A report kept as ``as_dict`` (the wizard keeps the last one per stack)."""
    report = Report(
        websocket_url=str(data.get("websocket_url", "")),
        endpoint_url=str(data.get("endpoint_url", "")),
        started=float(data.get("started", 0.0)),
    )
    fields = Step.__dataclass_fields__
    report.steps = [
        Step(**{name: value for name, value in step.items() if name in fields})
        for step in data.get("steps", [])
    ]
    return report
