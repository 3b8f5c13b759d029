"""What the user checks: the error summary, a share link's banner, the values that differ
from the defaults, the plain-HTTP warning, the processor's package, region-filtered findings."""

import html
import io
import re
import threading
import zipfile
from urllib.parse import urlencode, urlsplit

from conftest import PROCESSOR_FORM, VALID_FORM

from pushstack import lint, processor_zip
from webapp import create_app

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def text_of(response) -> str:
    """The page's words, as a reader sees them: no tags."""
    words = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    return " ".join(html.unescape(words).split())


def preview_path(client, form) -> str:
    response = client.post("/", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return urlsplit(response.headers["Location"]).path


def section(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}".*?</(table|div|section)>', page, re.S)
    return match.group(0) if match else ""


# The error summary.


def test_error_summary_links_every_error_to_its_field_in_page_order(client):
    response = client.post(
        "/",
        data={
            **VALID_FORM,
            "stack_name": "1bad",
            "vpc_id": "",
            "log_processing": "sideways",
            "endpoint_max_size": "0",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = section(page, "error-summary")
    opening = re.search(r'<div class="error-summary"[^>]*>', page).group(0)
    assert 'role="alert"' in opening and 'tabindex="-1"' in opening  # announced, focusable
    links = re.findall(r'<a href="#([^"]+)"', summary)
    assert links == ["stack_name", "vpc_id", "log_processing-0", "endpoint_max_size"]
    for target in links:
        assert f'id="{target}"' in page  # every link lands on a real input
    assert "Stack name: " in html.unescape(summary)
    assert "<title>Error: " in page


def test_no_error_summary_on_a_fresh_form(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="error-summary"' not in page
    assert "<title>Error" not in page


# A share link.


def test_form_from_a_link_says_so_and_lists_the_risky_values_first(client):
    query = urlencode(
        {
            "stack_name": "shared",
            "autopush_image": "evil.example/autopush:latest",
            "key_name": "theirs",
            "ssh_cidr": "198.51.100.0/24",
            "connection_max_size": "4",  # the default: not worth a line
        }
    )
    page = client.get("/?" + query).get_data(as_text=True)
    banner = " ".join(html.unescape(re.sub(r"<[^>]+>", "", section(page, "link-banner"))).split())
    assert "This form was filled in from a link." in banner
    assert banner.index("Autopush image: evil.example/autopush:latest") < banner.index(
        "Stack name (shared)"
    )
    assert "SSH key pair: theirs" in banner
    assert "Connection nodes maximum" not in banner


def test_plain_form_has_no_link_banner(client):
    assert "filled in from a link" not in text_of(client.get("/"))


# The preview.


def test_preview_lists_what_differs_from_the_defaults_risky_first(client):
    form = {**VALID_FORM, "autopush_image": "example.org/autopush:2", "endpoint_max_size": "7"}
    page = client.get(preview_path(client, form)).get_data(as_text=True)
    first = html.unescape(section(page, "changes-first"))
    rest = html.unescape(section(page, "changes-rest"))
    assert "Autopush image</td><td><code>example.org/autopush:2</code>" in first
    assert "Endpoint nodes maximum</td><td><code>7</code>" in rest
    assert "Stack name</td><td><code>push-test</code>" in rest
    assert "Connection nodes maximum" not in first + rest  # still the default
    assert "Crypto key" not in first + rest
    assert page.index('id="changes-first"') < page.index('id="download"')


def test_preview_with_default_images_and_access_says_so(client):
    page = text_of(client.get(preview_path(client, VALID_FORM)))
    # No processor, no processor's code to name.
    assert "The images and the access settings are the defaults" in page
    assert "processor's code" not in page
    default_code = {
        k: v
        for k, v in PROCESSOR_FORM.items()
        if k not in ("processor_code_bucket", "processor_code_key")
    }
    processor = text_of(client.get(preview_path(client, default_code)))
    assert "The images, the processor's code and the access settings are the defaults" in processor


def test_preview_without_certificate_warns_of_plain_ws_and_http(client):
    page = text_of(client.get(preview_path(client, VALID_FORM)))
    assert "No TLS certificate: clients will use unencrypted ws:// and http://." in page
    tls = {
        "certificate_arn": CERTIFICATE,
        "endpoint_hostname": "updates.push.example.com",
        "websocket_hostname": "push.example.com",
    }
    with_tls = text_of(client.get(preview_path(client, {**VALID_FORM, **tls})))
    assert "unencrypted ws://" not in with_tls


def test_processor_preview_offers_the_processor_package(client):
    path = preview_path(client, PROCESSOR_FORM)
    page = client.get(path).get_data(as_text=True)
    name = processor_zip.zip_key().rsplit("/", 1)[-1]
    assert f'href="{path}/processor.zip"' in page
    key = PROCESSOR_FORM["processor_code_key"]
    assert f"aws s3 cp {name} s3://my-processor-code/{key}" in html.unescape(page)
    # The create-stack command comes after the upload step, and the words say so.
    assert "Before the command below, upload it" in text_of_page(page)
    assert page.index('id="processor-zip"') < page.index('id="command"')
    response = client.get(path + "/processor.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert name in response.headers["Content-Disposition"]
    assert response.data == processor_zip.zip_bytes()
    assert "push_processor.py" in zipfile.ZipFile(io.BytesIO(response.data)).namelist()


def text_of_page(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_no_processor_package_without_the_processor(client):
    path = preview_path(client, VALID_FORM)
    assert "/processor.zip" not in client.get(path).get_data(as_text=True)
    assert client.get(path + "/processor.zip").status_code == 404


def test_findings_are_those_of_the_stack_region(client, monkeypatch):
    every = [
        lint.Finding("W1", "warning", "Everywhere", "Resources/A"),
        lint.Finding("E3006", "error", "Missing in 'eu-west-1'", "Resources/B", ("eu-west-1",)),
        lint.Finding("E3006", "error", "Missing in 'sa-east-1'", "Resources/C", ("sa-east-1",)),
    ]
    asked = []

    def findings(template_json, regions, **_):
        asked.append(tuple(regions))
        return every

    monkeypatch.setattr(lint, "findings", findings)
    page = text_of(client.get(preview_path(client, VALID_FORM)))  # eu-west-1
    assert "Everywhere" in page
    assert "Missing in 'eu-west-1'" in page
    assert "sa-east-1" not in page
    other = text_of(client.get(preview_path(client, {**VALID_FORM, "region": "sa-east-1"})))
    assert "Missing in 'sa-east-1'" in other
    assert "Missing in 'eu-west-1'" not in other
    assert len(asked) == 1 and len(asked[0]) == 29  # linted once, for every region


def app_with(**config):
    settings = {"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test" * 10}
    return create_app({**settings, **config})


def test_the_real_template_has_no_findings_in_its_region():
    client = app_with(PREVIEW_LINT_WAIT_SECONDS=120).test_client()
    page = text_of(client.get(preview_path(client, PROCESSOR_FORM)))
    assert "No findings." in page


def test_findings_follow_the_page_when_cfn_lint_is_slow(monkeypatch):
    release = threading.Event()
    late = lint.Finding("W9", "warning", "Found after the page", "Resources/A")

    def slow(template_json, regions, **_):
        release.wait(10)
        return [late]

    monkeypatch.setattr(lint, "findings", slow)
    client = app_with(PREVIEW_LINT_WAIT_SECONDS=0).test_client()
    path = preview_path(client, VALID_FORM)
    page = client.get(path).get_data(as_text=True)
    assert "cfn-lint is still checking this template" in page
    assert f'data-fetch="{path}/findings"' in page
    pending = client.get(path + "/findings")
    assert pending.status_code == 202
    release.set()
    for _ in range(50):
        ready = client.get(path + "/findings")
        if ready.status_code == 200:
            break
        threading.Event().wait(0.1)
    assert ready.status_code == 200
    assert "Found after the page" in ready.get_data(as_text=True)
    assert "still checking" not in text_of(client.get(path))
