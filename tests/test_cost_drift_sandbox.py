"""The update's change set priced before and after, and drift's note, against the sandbox."""

import re

import pytest
from test_stacks_web import app, client, cloud, launch, new_name, page_text, sandbox_url  # noqa: F401
from test_web import FormValues

from pushstack import cost


def test_the_change_set_page_prices_the_update_before_and_after(client):  # noqa: F811
    name = new_name("cost")
    launch(client, name)
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(connection_instance_type="c5.xlarge", acknowledge="y")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    text = page_text(client.get(response.headers["Location"]))
    match = re.search(r"Before: about \$([\d,.]+) a month; after: about \$([\d,.]+) a month", text)
    assert match, text[:3000]
    before, after = (float(x.replace(",", "")) for x in match.groups())
    prices = cost.snapshot()
    desired = int(form["connection_desired_capacity"])
    step = (
        prices.get("us-east-1", "ec2:c5.xlarge").usd - prices.get("us-east-1", "ec2:t3.small").usd
    )
    assert after - before == pytest.approx(desired * 730 * step, abs=0.02)
    assert f"prices as of {prices.as_of}" in text
    # moto does not emulate drift: the page says so rather than claiming none
    assert "The sandbox does not emulate drift detection" in text


def test_the_stack_page_says_the_sandbox_does_not_detect_drift(client):  # noqa: F811
    name = new_name("drift")
    status = client.get(launch(client, name))
    text = page_text(status)
    assert "Changes made outside pushstack" in text
    assert "The sandbox does not emulate drift detection" in text
    assert "drift-button" not in status.get_data(as_text=True)
    # a POST all the same (a script) gets the same answer, not an error
    assert "does not emulate drift" in page_text(client.post(f"/stacks/{name}/drift"))


def test_a_new_shape_is_priced_from_the_change_sets_own_template(client):  # noqa: F811
    """Turning Firehose on adds its stream and bucket to the 'after' (the sandbox answers
    GetTemplate with the change set's template, as CloudFormation does)."""
    name = new_name("shape")
    launch(client, name)
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(log_processing="firehose", acknowledge="y")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    text = page_text(client.get(response.headers["Location"]))
    after = text[text.index("Monthly cost by resource after the change") :]
    assert "LogDeliveryStream" in after and "LogBucket" in after
