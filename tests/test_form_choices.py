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


def _visible(page, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all(
        "items => items.filter(i => i.offsetParent !== null).map(i => i.dataset.value)"
    )


def test_route_tables_and_subnets_follow_the_vpc_and_stale_ids_are_flagged(page, served):
    from playwright.sync_api import expect

    app, base_url = served
    with app.app_context():
        access = get_access().cloud()
        home = access.sandbox_network()
        choices = access.account_choices()
    default_vpc = next(v.vpc_id for v in choices.vpcs if v.is_default)
    default_tables = {s.route_table for s in choices.subnets if s.vpc_id == default_vpc}
    page.goto(base_url + "/")
    page.locator("#engine-1").check()
    page.locator("input[name=log_processing][value=processor]").check()
    tables = "#private_route_table_ids-choices button.add-choice"
    offered = set(_visible(page, tables))
    assert set(home.private_route_table_ids) <= offered
    assert not offered & default_tables  # moto's default VPC's tables are not offered

    # The VPC changes: its subnets and route tables are offered, and the ids of the
    # other VPC left in the fields are named under them.
    page.locator("#vpc_id").fill(default_vpc)
    offered = set(_visible(page, tables))
    assert offered and offered <= default_tables
    subnets = set(_visible(page, "#subnet_ids-choices button.add-choice"))
    assert subnets and not subnets & set(home.public_subnet_ids)
    note = page.locator("#subnet_ids-other-vpc")
    expect(note).to_contain_text(f"{home.public_subnet_ids[0]}")
    expect(note).to_contain_text(f"are in {home.vpc_id}, not in {default_vpc}")
    expect(page.locator("#private_route_table_ids-other-vpc")).to_contain_text(
        home.private_route_table_ids[0]
    )
    expect(page.locator("#messages_api_subnet_id-other-vpc")).to_be_visible()

    # Back to the seeded VPC: nothing to flag.
    page.locator("#vpc_id").fill(home.vpc_id)
    expect(note).to_have_count(0)
    expect(page.locator("#private_route_table_ids-other-vpc")).to_have_count(0)


@pytest.mark.parametrize("script", [True, False], ids=["script", "no-script"])
def test_each_engines_fields_show_only_with_it(browser, served, script):
    _, base_url = served
    context = browser.new_context(java_script_enabled=script)
    page = context.new_page()
    try:
        page.goto(base_url + "/")
        legacy = ["#table_prefix", "#reuse_tables", "#autopush_image"]
        rs = ["#store_node_type", "#store_single_node", "#autoconnect_image"]
        assert page.locator("#engine-0").is_checked()  # autopush-rs
        assert not any(page.locator(s).is_visible() for s in legacy)
        assert not page.get_by_text("DynamoDB tables", exact=True).is_visible()
        assert all(page.locator(s).is_visible() for s in rs)
        page.locator("#engine-1").check()  # autopush-legacy
        assert all(page.locator(s).is_visible() for s in legacy)
        assert page.get_by_text("DynamoDB tables", exact=True).is_visible()
        assert not any(page.locator(s).is_visible() for s in rs)
    finally:
        context.close()
