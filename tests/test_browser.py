"""The wizard in headless Chromium, used as a person would use it."""

import json
import os
import tempfile
from pathlib import Path

import pytest
from conftest import served_wizard

CHROMIUM = "/usr/bin/chromium"
# Where the screenshots go: PUSHSTACK_SCREENSHOTS to keep them, else the suite's own
# temporary folder (tests/conftest.py), removed when the run ends.
SCREENSHOTS = Path(os.environ.get("PUSHSTACK_SCREENSHOTS") or tempfile.gettempdir())
# scripts/test installs Chromium and sets this: there, a missing browser is a failure.
REQUIRE_BROWSER = os.environ.get("PUSHSTACK_REQUIRE_BROWSER", "") not in ("", "0")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session", autouse=True)
def chromium_installed():
    """Skip without Chromium when run by hand; fail when scripts/test requires it."""
    if Path(CHROMIUM).exists():
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (scripts/test installs it)"
    if REQUIRE_BROWSER:
        pytest.fail(f"PUSHSTACK_REQUIRE_BROWSER is set but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def base_url():
    """The wizard on a free port of 127.0.0.1, in a background thread."""
    with served_wizard({"SECRET_KEY": "browser-tests"}) as (_app, url):
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if _is_problem(m) else None)
    yield page
    context.close()
    assert errors == [], errors  # no script error, no CSP violation


def test_fill_fix_preview_and_download(page, base_url):
    page.goto(base_url + "/")
    expect = _expect()
    expect(page.locator("header .target")).to_contain_text("Target: Sandbox")

    page.get_by_label("Stack name").fill("push-browser")
    page.get_by_label("Region").select_option("eu-central-1")
    # The region's network choices arrive before any of its fields is typed in.
    expect(page.locator("#region-network")).not_to_contain_text("Loading")

    # The key: generated in the browser, hidden until shown.
    key_input = page.locator("#crypto_key")
    page.get_by_role("button", name="Generate").click()
    key = key_input.input_value()
    assert len(key) == 44
    assert key.endswith("=")
    expect(key_input).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide").click()
    expect(key_input).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show").click()
    expect(key_input).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide").click()

    # Log processing is autopush 1.57.0's: pick that engine (new stacks get autopush-rs).
    expect(page.get_by_role("radio", name="autopush-rs")).to_be_checked()
    page.get_by_role("radio", name="autopush-legacy").check()

    # The processor's options appear only when it is chosen.
    processor_options = page.locator("#processor-options")
    expect(processor_options).to_be_hidden()
    page.get_by_role("radio", name="processor").check()
    expect(processor_options).to_be_visible()
    page.get_by_role("radio", name="firehose").check()
    expect(processor_options).to_be_hidden()
    page.get_by_role("radio", name="processor").check()

    page.get_by_label("VPC").fill("vpc-0123456789abcdef0")
    page.get_by_label("Subnets for the push nodes").fill("subnet-0123456789abcdef0\nsubnet-bad")
    page.get_by_label("Private subnets").fill("subnet-0123456789abcdef2")
    page.get_by_label("Messages API subnet").fill("subnet-0123456789abcdef2")
    page.get_by_label("Processor code bucket").fill("my-processor-code")
    page.screenshot(path=str(SCREENSHOTS / "pushstack-form.png"), full_page=True)
    page.get_by_role("button", name="Preview the template").click()

    # The error sits next to the subnets; everything else is as typed.
    error = page.locator("#subnet_ids-error")
    expect(error).to_contain_text("'subnet-bad' is not valid")
    expect(page.locator("#subnet_ids")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Stack name")).to_have_value("push-browser")
    expect(page.get_by_label("Region")).to_have_value("eu-central-1")
    expect(page.get_by_role("radio", name="processor")).to_be_checked()
    expect(page.get_by_role("radio", name="autopush-legacy")).to_be_checked()
    expect(processor_options).to_be_visible()
    expect(page.get_by_label("Processor code bucket")).to_have_value("my-processor-code")
    expect(key_input).to_have_value("")  # the key is never sent back
    page.get_by_role("button", name="Generate").click()
    key = key_input.input_value()

    page.get_by_label("Subnets for the push nodes").fill(
        "subnet-0123456789abcdef0\nsubnet-0123456789abcdef1"
    )
    page.get_by_role("button", name="Preview the template").click()

    # The preview.
    expect(page.get_by_role("heading", name="Preview: stack push-browser")).to_be_visible()
    expect(page.locator("#summary table")).to_contain_text("AWS::DynamoDB::Table")
    expect(page.locator("#template-text")).to_contain_text('"AWSTemplateFormatVersion"')
    assert key not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "pushstack-preview.png"), full_page=True)

    page.get_by_role("link", name="YAML", exact=True).click()
    expect(page.locator("#template-text")).to_contain_text("AWSTemplateFormatVersion:")
    expect(page.get_by_role("button", name="Copy YAML")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="push-browser.template.json").click()
    download = download_info.value
    assert download.suggested_filename == "push-browser.template.json"
    template = json.loads(Path(download.path()).read_text())
    assert "Resources" in template
    assert key not in json.dumps(template)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="push-browser.parameters.json").click()
    parameters = json.loads(Path(download_info.value.path()).read_text())
    values = {entry["ParameterKey"]: entry["ParameterValue"] for entry in parameters}
    assert values["CryptoKey"] == key


def test_autopush_rs_is_picked_refused_with_log_processing_and_previewed(page, base_url):
    """The default engine, through the sandbox's pre-filled network: a wrong combination
    is refused next to its field, then the preview shows the store and the build."""
    page.goto(base_url + "/")
    expect = _expect()
    page.get_by_label("Stack name").fill("push-rs")
    # The sandbox's network is pre-filled once the region's choices are in.
    expect(page.locator("#region-network")).not_to_contain_text("Loading")
    page.get_by_role("radio", name="autopush-legacy").check()
    page.get_by_role("radio", name="autopush-rs").check()
    page.get_by_role("radio", name="firehose").check()
    page.get_by_role("button", name="Preview the template").click()
    expect(page.locator("#log_processing-error")).to_contain_text("autopush-rs cannot feed this")
    expect(page.get_by_role("radio", name="autopush-rs")).to_be_checked()  # kept as chosen
    expect(page.get_by_label("Stack name")).to_have_value("push-rs")

    page.get_by_role("radio", name="none").check()
    page.get_by_role("button", name="Preview the template").click()
    expect(page.get_by_role("heading", name="Preview: stack push-rs")).to_be_visible()
    expect(page.locator("#summary table")).to_contain_text("AWS::ElastiCache::ReplicationGroup")
    expect(page.locator("#summary table")).to_contain_text("AWS::CodeBuild::Project")
    expect(page.locator("#summary table")).not_to_contain_text("AWS::DynamoDB::Table")
    expect(page.locator("#create-time")).to_contain_text("CodeBuild compiles autoconnect")


def test_processor_options_show_without_javascript(browser, base_url):
    """CSS alone shows the processor's options, and only while "processor" is chosen."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    expect = _expect()
    page.goto(base_url + "/")
    processor_options = page.locator("#processor-options")
    expect(page.get_by_role("button", name="Generate")).to_be_hidden()
    expect(processor_options).to_be_hidden()
    page.get_by_role("radio", name="processor").click()
    expect(processor_options).to_be_visible()
    expect(page.get_by_label("Processor code bucket")).to_be_visible()
    page.get_by_role("radio", name="firehose").click()
    expect(processor_options).to_be_hidden()
    context.close()


def test_error_summary_takes_the_focus_and_leads_to_each_field(page, base_url):
    """GOV.UK's pattern: the summary is focused first; its links focus their fields."""
    expect = _expect()
    page.goto(base_url + "/")
    page.get_by_label("Stack name").fill("1-starts-with-a-digit")
    page.get_by_label("VPC").fill("")
    page.get_by_role("button", name="Preview the template").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Some options need fixing")
    summary.get_by_role("link", name="Stack name:").click()
    expect(page.get_by_label("Stack name")).to_be_focused()
    summary.get_by_role("link", name="VPC:").click()
    expect(page.locator("#vpc_id")).to_be_focused()


def test_preview_shows_cfn_lint_findings_once_ready(page, base_url):
    """A preview that came before cfn-lint's findings fetches them by itself."""
    expect = _expect()
    page.goto(base_url + "/")
    page.get_by_label("VPC").fill("vpc-0123456789abcdef0")
    page.get_by_label("Subnets for the push nodes").fill(
        "subnet-0123456789abcdef0\nsubnet-0123456789abcdef1"
    )
    page.get_by_role("button", name="Preview the template").click()
    findings = page.locator("#findings-body")
    expect(findings.get_by_text("No findings.")).to_be_visible(timeout=60_000)


def _is_problem(message) -> bool:
    """A script error or CSP violation; the 422 of a form with errors is expected."""
    return message.type == "error" and "status of 422" not in message.text


def _expect():
    from playwright.sync_api import expect

    return expect


def test_a_diagram_larger_than_its_box_says_it_scrolls(browser, base_url):
    """The processor's diagram is taller than its box (it scales to the box's width):
    a line says it scrolls and the edge with more beyond it is shaded, until it is
    scrolled there."""
    import re

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    expect = _expect()
    page.goto(base_url + "/")
    page.get_by_role("radio", name="autopush-legacy").check()  # the processor's engine
    page.get_by_role("radio", name="processor").check()
    page.get_by_role("button", name="Preview the template").click()
    cue = page.locator("#diagram-scroll")
    expect(cue).to_have_text("The diagram is larger than its box: scroll it down to see all of it.")
    wrap = page.locator("#diagram-wrap")
    expect(wrap).to_have_class(re.compile(r"\bmore-bottom\b"))
    expect(wrap).not_to_have_class(re.compile(r"\bmore-top\b"))
    page.locator("#diagram-box").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    expect(wrap).not_to_have_class(re.compile(r"\bmore-bottom\b"))
    expect(wrap).to_have_class(re.compile(r"\bmore-top\b"))
    # In a narrower window the diagram scales down until it fits: no cue.
    page.set_viewport_size({"width": 700, "height": 900})
    expect(cue).to_be_hidden()
    context.close()
