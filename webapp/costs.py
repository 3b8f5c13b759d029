"""The monthly cost estimate shown on the preview, the launch page and the change set page."""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import Template

from pushstack import cost, render
from pushstack.options import Options


def of_options(options: Options, template: Template) -> cost.Estimate:
    """The estimate of ``template`` (``build_template(options)``, cached by the caller)."""
    return cost.estimate(
        render.to_dict(template), render.parameter_values(options, template), options.region
    )


def of_deployed(template: Mapping, parameters: Mapping[str, str], region: str) -> cost.Estimate:
    """The estimate of a stack's (or change set's) template with its parameter values."""
    return cost.estimate(dict(template), parameters, region)
