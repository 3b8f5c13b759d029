"""Monthly cost estimate of a rendered template, from the dated price snapshot.

Interface::

    from pushstack import cost

    est = cost.for_options(options)          # the template build_template(options) renders
    est = cost.estimate(template_dict, parameter_values, region, cost.Assumptions())
    est.total, est.lines, est.not_priced, est.assumptions, est.prices_as_of
    est.has_prices / est.message             # a region without prices says so
    cost.table(est)                          # the text `pushstack cost` prints
"""

from __future__ import annotations

from pushstack import render
from pushstack.cost.estimate import (
    Assumptions,
    Estimate,
    Line,
    NotPriced,
    difference,
    estimate,
    table,
)
from pushstack.cost.prices import Snapshot, snapshot


def for_options(options, assumptions: Assumptions | None = None) -> Estimate:
    """The estimate of the stack ``options`` describe, as the template renders it."""
    from pushstack.template import build_template

    template = build_template(options)
    return estimate(
        render.to_dict(template),
        render.parameter_values(options, template),
        options.region,
        assumptions,
    )


__all__ = [
    "Assumptions",
    "Estimate",
    "Line",
    "NotPriced",
    "Snapshot",
    "difference",
    "estimate",
    "for_options",
    "snapshot",
    "table",
]
