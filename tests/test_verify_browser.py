""" "Send a test push" and the load probe in headless Chromium (static/verify.js): the
steps and figures appear in place, with the CSRF token and no script error. The stack
is launched into the sandbox; its push URLs are tests/pushserver.py's (the stand-in)."""

import dataclasses
import secrets

import pytest
from conftest import served_wizard
from pushserver import Behaviour, PushServer
from test_browser import SCREENSHOTS
from variants import VARIANTS

from pushstack.verify import roundtrip
from webapp import verify as web_verify
from webapp.cloud import get_access

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(sandbox_server):
    with served_wizard(
        {"SECRET_KEY": "verify-browser", "TARGET": "sandbox", "SANDBOX_URL": sandbox_server.url}
    ) as (app, url):
        with app.app_context():
            cloud = get_access().cloud()
            network = cloud.sandbox_network()
            suffix = secrets.token_hex(3)
            options = dataclasses.replace(
                VARIANTS["none"],
                region=cloud.region,
                stack_name=f"verify-browser-{suffix}",
                table_prefix=f"autopush_{suffix}",
                vpc_id=network.vpc_id,
                subnet_ids=network.public_subnet_ids,
            )
            cloud.launch(options, acknowledged=("CAPABILITY_IAM",), launch_id=f"vb-{suffix}")
        yield url, options.stack_name


@pytest.fixture
def stand_in(monkeypatch):
    with PushServer(behaviour=Behaviour()) as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        monkeypatch.setattr(web_verify, "is_sandbox", lambda: False)
        monkeypatch.setattr(web_verify, "stack_outputs", lambda name, region: outputs)
        monkeypatch.setattr(
            web_verify, "WEB_TIMEOUTS", roundtrip.Timeouts(connect=2, reply=2, send=2, delivery=1)
        )
        yield server


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


def test_the_button_shows_the_steps_and_the_probe_its_figures(page, served, stand_in):
    from playwright.sync_api import expect

    url, name = served
    page.goto(f"{url}/stacks/{name}")
    page.get_by_role("button", name="Send a test push").click()
    expect(page.locator("#verify-summary")).to_contain_text("Delivered: every step passed.")
    expect(page.locator("#verify-steps tbody tr")).to_have_count(13)
    assert page.url.endswith(f"/stacks/{name}")  # in place: the page was not reloaded
    assert stand_in.pushes == [201, 201]

    page.get_by_label("Connections").fill("2")
    page.get_by_label("Seconds").fill("1")
    page.get_by_role("button", name="Run the load probe").click()
    expect(page.locator("#probe-summary")).to_contain_text("Every push was delivered.")
    expect(page.locator("#probe-figures")).to_contain_text("2 sent, 2 accepted, 2 delivered")

    # What the script showed is what the page shows after a reload (the kept results).
    page.reload()
    expect(page.locator("#verify-summary")).to_contain_text("Delivered: every step passed.")
    expect(page.locator("#probe-figures")).to_contain_text("2 of 2 (0 failed to connect)")
    page.locator("#verify").screenshot(path=SCREENSHOTS / "verify.png")
