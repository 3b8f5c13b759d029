"""The monthly cost estimate on the preview and the launch section, through Flask's client."""

import html
import re
from urllib.parse import urlsplit

import pytest
from conftest import PROCESSOR_FORM, VALID_FORM

from pushstack import cost
from pushstack.options import from_input


def preview_page(client, form):
    response = client.post("/", data=form)
    assert response.status_code == 303
    return client.get(urlsplit(response.headers["Location"]).path).get_data(as_text=True)


def words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def options_of(form):
    values = {**form, "subnet_ids": form["subnet_ids"].split()}
    if "private_subnet_ids" in form:
        values["private_subnet_ids"] = [s.strip() for s in form["private_subnet_ids"].split(",")]
    return from_input(values)


def test_preview_shows_the_monthly_total_lines_date_and_assumptions(client):
    form = {**PROCESSOR_FORM, "region": "us-west-2", "redis_node_type": "cache.m5.large"}
    page = preview_page(client, form)
    expected = cost.for_options(options_of(form))
    text = words(page)
    assert f"About ${expected.total:,.2f} a month in us-west-2" in text
    assert f"as of {expected.prices_as_of}" in text
    for line in expected.lines:
        assert f"{line.logical_id} {line.what} ${line.monthly_usd:,.2f}" in text
    assert "1 × cache.m5.large cache node" in text
    assert "Assumptions" in text and "730 hours" in text
    # the launch section says it too, next to the acknowledgement
    assert f"about ${expected.total:,.2f} a month at list prices as of" in text


def test_a_bigger_instance_type_shows_a_bigger_total(client):
    small = words(preview_page(client, {**VALID_FORM, "region": "us-east-1"}))
    big = words(
        preview_page(
            client, {**VALID_FORM, "region": "us-east-1", "connection_instance_type": "c5.2xlarge"}
        )
    )
    total = lambda text: float(re.search(r"About \$([\d,.]+) a month", text)[1].replace(",", ""))  # noqa: E731
    assert total(big) - total(small) == pytest.approx(2 * 730 * (0.34 - 0.0208), abs=0.02)


def test_preview_in_a_region_without_prices_says_so(client):
    text = words(preview_page(client, VALID_FORM))  # eu-west-1
    assert "No prices for eu-west-1 in pushstack's price snapshot" in text
    assert "About $" not in text
