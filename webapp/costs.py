"""The monthly cost estimate shown on the preview, the launch page and the change set page."""

from __future__ import annotations

import contextlib
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


def change_set_context(cloud, name: str, change_set_id: str) -> dict:
    """What the change set page adds: the cost before and after, and the last known drift.

    Either may be missing (a template that cannot be read, a drift never checked): the
    change set itself is what the page is for, so neither failure stops it.
    """
    from pushstack.cloud import CloudError

    context = {"estimate": None, "before": None, "drift": None}
    context["drift_detectable"] = cloud.drift_detectable
    with contextlib.suppress(CloudError):
        before, before_values, after, after_values = cloud.change_set_templates(change_set_id, name)
        context["before"] = of_deployed(before, before_values, cloud.region)
        context["estimate"] = of_deployed(after, after_values, cloud.region)
    with contextlib.suppress(CloudError):
        context["drift"] = cloud.last_drift(name)
    return context
