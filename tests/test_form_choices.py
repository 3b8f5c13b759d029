"""The form's network follows the region in a browser: on a change, the script loads
the account's choices of the new region, and the pre-filled network with them."""

import secrets

import pytest
from conftest import served_wizard

from webapp.cloud import get_access

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(sandbox_server):
    """The wizard on the session's sandbox, on a free port of 127.0.0.1."""
    with served_wizard(
        {"SECRET_KEY": "form-choices", "TARGET": "sandbox", "SANDBOX_URL": sandbox_server.url}
    ) as (app, url):
        yield app, url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert problems == [], problems  # no script error, no CSP violation


def test_changing_the_region_reloads_its_network(page, served):
    from playwright.sync_api import expect

    app, base_url = served
    with app.app_context():
        home = get_access().cloud().sandbox_network()
        away = get_access().cloud("eu-west-2").sandbox_network()
    page.goto(base_url + "/")
    expect(page.locator("#vpc_id")).to_have_value(home.vpc_id)
    page.locator("#key_name").fill("my-key")  # typed: stays as it is
    page.locator("#ssh_cidr").fill("203.0.113.0/24")

    page.locator("#region").select_option("eu-west-2")
    expect(page.locator("#region-network")).to_have_text(
        "The network choices below are from eu-west-2."
    )
    expect(page.locator("#vpc_id")).to_have_value(away.vpc_id)
    assert page.locator("#subnet_ids").input_value().split() == list(away.public_subnet_ids)
    assert page.locator("#key_name").input_value() == "my-key"
    offered = page.locator("#vpc_id-choices option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert away.vpc_id in offered and home.vpc_id not in offered
    # The reloaded subnets' "Add" buttons work.
    subnets = page.locator("#subnet_ids")
    subnets.fill("")
    page.locator(f'#subnet_ids-choices button[data-value="{away.public_subnet_ids[0]}"]').click()
    assert subnets.input_value().split() == [away.public_subnet_ids[0]]
    page.locator(f'#subnet_ids-choices button[data-value="{away.public_subnet_ids[1]}"]').click()

    page.get_by_label("Stack name").fill(f"choices-{secrets.token_hex(3)}")
    page.get_by_role("button", name="Preview the template").click()
    assert page.locator("#error-summary").count() == 0, page.locator("#error-summary").inner_text()
    expect(page.locator("h1")).not_to_contain_text("Configure")  # the preview, no error
    expect(page.locator("body")).to_contain_text(away.vpc_id)
