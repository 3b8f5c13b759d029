"""The whole flow in headless Chromium: fill, preview, acknowledge, launch into the
sandbox, watch the status page complete with its outputs, delete."""

import dataclasses
import json
import secrets

import pytest
from conftest import served_wizard
from test_browser import SCREENSHOTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(sandbox_server):
    """The wizard, launching into the session's sandbox, on a free port of 127.0.0.1."""
    with served_wizard(
        {
            "SECRET_KEY": "browser-flow",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
            "PROGRESS_INTERVAL_SECONDS": 0.5,
        }
    ) as (app, url):
        yield app, url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if _is_problem(m) else None)
    yield page
    context.close()
    assert problems == [], problems  # no script error, no CSP violation


def _is_problem(message) -> bool:
    """A script error or CSP violation; the answers the tests provoke on purpose are expected."""
    return message.type == "error" and not any(
        f"status of {code}" in message.text for code in (422, 429)
    )


def _expect():
    from playwright.sync_api import expect

    return expect


# What a delete keeps of each engine's stack, and the command that removes it.
KEPT = {
    # (the sandbox creates no store: its group is what the command can name there)
    "autopush-rs": ("PushStore", "aws ec2 delete-security-group"),
    "autopush-legacy": ("RouterTable", "aws dynamodb delete-table"),
}


@pytest.mark.parametrize("engine", list(KEPT))
def test_fill_preview_launch_watch_and_delete(page, served, engine):
    _, base_url = served
    expect = _expect()
    name = f"browser-{secrets.token_hex(3)}"
    page.goto(base_url + "/")
    expect(page.locator("header .target")).to_contain_text("Target: Sandbox")

    # The sandbox's network is already filled in; only a name and a key are typed.
    expect(page.get_by_label("VPC")).to_have_value(_starts_with("vpc-"))
    page.get_by_label("Stack name").fill(name)
    # The account's subnets, listed under the field, go in with one click each.
    subnets = page.locator("#subnet_ids")
    seeded = subnets.input_value().split()
    subnets.fill("")
    for subnet_id in seeded:
        page.locator(f'#subnet_ids-choices button[data-value="{subnet_id}"]').click()
    assert subnets.input_value().split() == seeded
    page.get_by_role("radio", name=engine).check()
    page.get_by_role("button", name="Generate").click()
    key = page.locator("#crypto_key").input_value()
    page.get_by_role("button", name="Preview the template").click()

    # The preview's launch section: nothing happens without the acknowledgement.
    launch = page.get_by_role("button", name="Launch the stack")
    expect(launch).to_be_visible()
    expect(page.locator("#launch")).to_contain_text("CAPABILITY_IAM")
    launch.click()  # the browser itself asks for the box first
    expect(page.locator("#acknowledge:invalid")).to_have_count(1)
    expect(page.get_by_role("heading", name=f"Preview: stack {name}")).to_be_visible()
    page.get_by_label("I understand: launching creates IAM roles").check()
    page.get_by_role("button", name="Launch the stack").click()

    # The status page, complete, with its outputs and a copy button for each.
    expect(page.get_by_role("heading", name=f"Stack {name}")).to_be_visible()
    expect(page.locator("#stack-state")).to_have_text("CREATE_COMPLETE")
    expect(page.locator("#stack-count")).to_contain_text("resources done")
    count = page.locator("#stack-count").inner_text().split()
    assert count[0] == count[2]  # done of total, all done
    websocket = page.locator("#output-WebSocketURL")
    expect(websocket).to_contain_text(f"ws://{name}-")
    expect(page.locator("#outputs").get_by_role("button", name="Copy").first).to_be_visible()
    expect(page.locator("#next")).to_contain_text("Point push clients at the WebSocket URL")
    assert key not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "pushstack-stack.png"), full_page=True)

    # The stacks list links to it.
    page.get_by_role("link", name="Stacks", exact=True).click()
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.get_by_role("link", name=name).click()

    # Delete: what goes and what stays, then the deleted stack's page.
    page.get_by_role("link", name="Delete this stack…").click()
    kept, command = KEPT[engine]
    expect(page.locator("#kept")).to_contain_text(kept)
    expect(page.locator("#deleted")).to_contain_text("ConnectionNodes")
    # The name must be typed: the browser asks for it first, then the wizard checks it.
    page.get_by_role("button", name="Delete the stack").click()
    expect(page.locator("#confirm_name:invalid")).to_have_count(1)
    page.get_by_label("Type the stack's name to confirm").fill(name + "x")
    page.get_by_role("button", name="Delete the stack").click()
    expect(page.locator("#confirm_name-error")).to_have_text(f"Type {name} exactly to delete it.")
    page.get_by_label("Type the stack's name to confirm").fill(name)
    page.get_by_role("button", name="Delete the stack").click()
    expect(page.locator("#stack-state")).to_have_text("DELETE_COMPLETE")
    expect(page.locator("#retained")).to_contain_text(command)


def test_status_page_follows_an_operation_live_and_backs_off(page, served, monkeypatch):
    """A create in progress: the page polls, survives throttling, and shows the end."""
    app, base_url = served
    expect = _expect()
    name = f"live-{secrets.token_hex(3)}"
    with app.app_context():
        from webapp.cloud import get_access

        access = get_access()
        cloud = access.cloud()
    _launch(app, name)
    done_stack, done_progress = cloud.stack(name), cloud.progress(name)
    running = {"left": 3}  # the first three reads say "in progress"

    def stack(ref):
        if running["left"] > 0:
            return dataclasses.replace(done_stack, status="CREATE_IN_PROGRESS", outputs=())
        return done_stack

    def progress(ref, previous=None):
        if running["left"] > 0:
            running["left"] -= 1
            return dataclasses.replace(
                done_progress,
                status="CREATE_IN_PROGRESS",
                done=3,
                finished=False,
                outputs={},
                events=done_progress.events[:1],
            )
        return done_progress

    monkeypatch.setattr(cloud, "stack", stack)
    monkeypatch.setattr(cloud, "progress", progress)
    access.changed(name)
    throttled = {"count": 0}

    def throttle_once(route):
        if throttled["count"] == 0:
            throttled["count"] += 1
            route.fulfill(
                status=429,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"error": "AWS is throttling requests.", "advice": "Wait."}),
            )
        else:
            route.continue_()

    page.route(f"**/api/stacks/{name}*", throttle_once)
    page.goto(f"{base_url}/stacks/{name}")
    expect(page.locator("#stack-state")).to_have_text("CREATE_IN_PROGRESS")
    expect(page.locator("#stack-progress")).to_have_attribute("value", "3")
    expect(page.locator("#stack-live")).to_contain_text("throttling", timeout=10_000)
    expect(page.locator("#stack-live")).to_contain_text("Trying again in")
    # Then the polls go through, the operation ends and the page shows the result.
    expect(page.locator("#stack-state")).to_have_text("CREATE_COMPLETE", timeout=20_000)
    expect(page.locator("#output-WebSocketURL")).to_be_visible()
    assert throttled["count"] == 1


def test_status_page_without_javascript(browser, served):
    app, base_url = served
    name = f"nojs-{secrets.token_hex(3)}"
    _launch(app, name)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    expect = _expect()
    page.goto(f"{base_url}/stacks/{name}")
    expect(page.locator("#stack-state")).to_have_text("CREATE_COMPLETE")
    expect(page.locator("#output-WebSocketURL")).to_contain_text("ws://")
    expect(page.locator("#outputs").get_by_role("button", name="Copy").first).to_be_hidden()
    context.close()


def test_update_turning_log_processing_off_then_delete(page, served):
    """Update from the stack's page: the change set flags the log bucket, applying it
    completes, the stack still shows its outputs, and deletes."""
    app, base_url = served
    expect = _expect()
    name = f"update-{secrets.token_hex(3)}"
    _launch(app, name, log_processing="firehose")
    page.goto(f"{base_url}/stacks/{name}")
    expect(page.locator("#output-LogBucketName")).to_contain_text("push-logs-")
    page.get_by_role("link", name="Update this stack").click()
    expect(page.locator('input[name="log_processing"][value="firehose"]')).to_be_checked()
    expect(page.locator("#crypto_key")).to_have_value("")  # the stack's key is kept
    page.locator('input[name="log_processing"][value="none"]').check()
    page.get_by_label("I understand: the update may replace nodes").check()
    page.get_by_role("button", name="Show the changes").click()
    expect(page.locator("#dangers")).to_contain_text("LogBucket")
    page.get_by_role("button", name="Apply these changes anyway").click()
    expect(page.locator("#stack-state")).to_have_text("UPDATE_COMPLETE")
    expect(page.locator("#output-WebSocketURL")).to_contain_text("ws://")
    expect(page.locator("#output-LogBucketName")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "pushstack-updated.png"), full_page=True)
    page.get_by_role("link", name="Delete this stack…").click()
    page.get_by_label("Type the stack's name to confirm").fill(name)
    page.get_by_role("button", name="Delete the stack").click()
    expect(page.locator("#stack-state")).to_have_text("DELETE_COMPLETE")


def test_change_set_shows_the_parameter_and_property_diff_then_discards(page, served):
    """Desired capacity 2 to 3 through the update form: the change set names the
    parameter (old, new), the group's property it sets and its predicted replacement;
    Discard deletes the change set and leaves the stack as it was."""
    app, base_url = served
    expect = _expect()
    name = f"diff-{secrets.token_hex(3)}"
    _launch(app, name)
    page.goto(f"{base_url}/stacks/{name}/update")
    page.locator("#connection_desired_capacity").fill("3")
    page.get_by_label("I understand: the update may replace nodes").check()
    page.get_by_role("button", name="Show the changes").click()
    row = page.locator("#parameter-ConnectionDesiredCapacity")
    expect(row).to_contain_text("2")
    expect(row.locator("td").nth(1)).to_have_text("3")
    expect(page.locator("#parameter-CryptoKey")).to_contain_text("kept")
    expect(page.locator("#change-ConnectionNodes")).to_contain_text("No (predicted)")
    properties = page.get_by_role("table", name="What changes in ConnectionNodes")
    capacity = properties.locator("tr.property", has_text="DesiredCapacity").first
    expect(capacity).to_contain_text("2 → 3")
    expect(capacity).to_contain_text("No (predicted)")
    page.get_by_role("button", name="Discard these changes").click()
    expect(page.locator("#change-set-discarded")).to_contain_text("discarded")
    expect(page.locator("#stack-state")).to_have_text("CREATE_COMPLETE")
    with app.app_context():
        from webapp.cloud import get_access

        stack = get_access().cloud().stack(name)
    assert stack.parameters["ConnectionDesiredCapacity"] == "2"


def test_subnet_choices_follow_the_chosen_vpc(page, served):
    """The sandbox holds moto's default VPC too: its subnets are offered only once the
    VPC field names it, and the seeded VPC's then leave."""
    app, base_url = served
    expect = _expect()
    with app.app_context():
        from webapp.cloud import get_access

        choices = get_access().cloud().account_choices()
    seeded = next(v.vpc_id for v in choices.vpcs if not v.is_default)
    default = next(v.vpc_id for v in choices.vpcs if v.is_default)
    theirs = [s.subnet_id for s in choices.subnets if s.vpc_id == default]
    ours = [s.subnet_id for s in choices.subnets if s.vpc_id == seeded]
    page.goto(base_url + "/")
    picker = page.locator("#subnet_ids-choices")
    expect(page.locator("#vpc_id")).to_have_value(seeded)
    for subnet_id in ours:
        expect(picker.locator(f'li:has(button[data-value="{subnet_id}"])')).to_be_visible()
    for subnet_id in theirs:
        expect(picker.locator(f'li:has(button[data-value="{subnet_id}"])')).to_be_hidden()
    expect(
        page.locator(f'#messages_api_subnet_id-choices option[value="{theirs[0]}"]')
    ).to_be_disabled()

    page.locator("#vpc_id").fill(default)
    for subnet_id in theirs:
        expect(picker.locator(f'li:has(button[data-value="{subnet_id}"])')).to_be_visible()
    for subnet_id in ours:
        expect(picker.locator(f'li:has(button[data-value="{subnet_id}"])')).to_be_hidden()
    # A VPC the account does not have: every subnet is offered again.
    page.locator("#vpc_id").fill("vpc-0123456789abcdef0")
    for subnet_id in ours + theirs:
        expect(picker.locator(f'li:has(button[data-value="{subnet_id}"])')).to_be_visible()


@pytest.fixture(scope="module")
def paced(fake_aws_env):
    """A wizard on its own sandbox, paced (a full stack in a few seconds)."""
    from pushstack import sandbox

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUSHSTACK_SANDBOX_PACE", "0.3")
        server = sandbox.start()
    try:
        with served_wizard(
            {
                "SECRET_KEY": "browser-paced",
                "TARGET": "sandbox",
                "SANDBOX_URL": server.url,
                "PROGRESS_INTERVAL_SECONDS": 0.5,
            }
        ) as (app, url):
            yield app, url
    finally:
        server.stop()


def test_the_progress_bar_moves_as_a_paced_sandbox_creates(page, paced):
    """The status page of a creation in a paced sandbox: the bar starts short of the
    total, grows as resources complete, and fills when the stack is complete; the
    events table has each resource's own rows."""
    app, base_url = paced
    expect = _expect()
    name = f"paced-{secrets.token_hex(3)}"
    _launch(app, name)
    page.goto(f"{base_url}/stacks/{name}")
    bar = page.locator("#stack-progress")
    expect(page.locator("#stack-state")).to_have_text("CREATE_IN_PROGRESS")
    first = int(bar.get_attribute("value"))
    total = int(bar.get_attribute("max"))
    assert first < total
    # The bar grows while the stack is still in progress (the page polls its API)...
    page.wait_for_function(
        """([first]) => {
            const bar = document.getElementById("stack-progress");
            const state = document.getElementById("stack-state").textContent;
            return state === "CREATE_IN_PROGRESS" && bar.value > first && bar.value < bar.max;
        }""",
        arg=[first],
        timeout=20_000,
    )
    # ...and is full once it is complete.
    expect(page.locator("#stack-state")).to_have_text("CREATE_COMPLETE", timeout=30_000)
    expect(bar).to_have_attribute("value", str(total))
    rows = page.locator("#event-rows tr")
    import re

    nodes = rows.filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile("^ConnectionNodes$"))
    )
    expect(nodes).to_have_count(2)  # its own in progress and complete
    assert rows.count() > 2 * 10


def _launch(app, name: str, **values) -> None:
    """A stack launched the way the wizard does, without a browser."""
    from test_web import FormValues

    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        form = FormValues(client.get("/").get_data(as_text=True)).values
        form["stack_name"] = name
        form["engine"] = "autopush-legacy"  # written for its log processing and tables
        form.update(values)
        preview = client.post("/", data=form).headers["Location"]
        response = client.post(preview + "/launch", data={"acknowledge": "y"})
        assert response.status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def _starts_with(prefix: str):
    import re

    return re.compile("^" + re.escape(prefix))
