"""The wizard through Flask's test client: every page, every rule, no leaked key."""

import html
import json
import logging
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from conftest import KNOWN_KEY, PROCESSOR_FORM, VALID_FORM

import webapp.preview
from pushstack import diagram, lint, render, summary
from pushstack.options import SPECS
from webapp import create_app


class FormValues(HTMLParser):
    """The values a browser would submit from a page's form, by field name."""

    def __init__(self, page: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea = self._select = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def error_of(page: str, name: str) -> str | None:
    """The error message shown next to a field, if any."""
    match = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else None


def submit(client, form, **overrides):
    return client.post("/", data={**form, **overrides})


def preview_url(client, form=VALID_FORM) -> str:
    response = submit(client, form)
    assert response.status_code == 303, error_summary(response)
    return urlsplit(response.headers["Location"]).path


def error_summary(response) -> dict:
    page = response.get_data(as_text=True)
    return {name: error_of(page, name) for name in SPECS if error_of(page, name)}


# The form.


def test_form_shows_every_option_with_label_and_help(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Target: Sandbox (moto on 127.0.0.1:" in page  # the header names the live target
    for name, spec in SPECS.items():
        if name not in ("log_processing", "engine"):  # radio groups: a legend
            assert re.search(f'<label (class="title" )?for="{name}">', page), name
        assert spec.help in html.unescape(page), name
        assert f'aria-describedby="{name}-help"' in page, name


def test_form_groups_options_in_fieldsets(client):
    page = client.get("/").get_data(as_text=True)
    assert page.count("<fieldset") >= 6
    for legend in ("Stack", "DynamoDB tables", "Network", "Log processing"):
        assert f"<legend>{legend}</legend>" in page


def test_a_section_of_one_question_asks_it_once(client):
    """Not "Crypto key / Crypto key": the question is the section's title, said once."""
    page = " ".join(client.get("/").get_data(as_text=True).split())
    assert "<legend>Crypto key</legend>" not in page
    assert page.count(">Crypto key<") == 1
    assert '<label class="title" for="crypto_key">Crypto key</label>' in page
    assert page.count(">Log processing<") == 1  # the legend, no second label


def test_form_defaults(client):
    values = FormValues(client.get("/").get_data(as_text=True)).values
    assert values["stack_name"] == "autopush"
    assert values["region"] == "us-east-1"
    assert values["log_processing"] == "none"
    assert values["connection_desired_capacity"] == "2"
    assert values["crypto_key"] == ""
    assert "reuse_tables" not in values


def test_form_shows_a_new_table_prefix_each_time(client):
    first = FormValues(client.get("/").get_data(as_text=True)).values["table_prefix"]
    second = FormValues(client.get("/").get_data(as_text=True)).values["table_prefix"]
    assert first.startswith("autopush_")
    assert first != second


def test_log_processing_choices_are_explained(client):
    page = client.get("/").get_data(as_text=True)
    for choice in ("none", "firehose", "processor"):
        assert f'id="log_processing-{SPECS["log_processing"].choices.index(choice)}"' in page
    assert "logs stay on the nodes" in page
    assert "encrypted S3 bucket" in page
    assert "Push Messages API" in page


def test_processor_fields_are_in_the_page_and_shown_by_css(client):
    """Not hidden by the server or by script: CSS shows them while "processor" is
    checked (tests/test_browser.py checks it in Chromium with JavaScript off)."""
    page = client.get("/").get_data(as_text=True)
    fieldset = re.search(r'<fieldset id="processor-options"[^>]*>', page).group(0)
    assert 'data-only-for="processor"' in fieldset
    assert "hidden" not in fieldset
    for name, spec in SPECS.items():
        if spec.only_for == "processor":
            assert f'id="{name}"' in page
    with client.get("/static/wizard.css") as response:
        css = response.get_data(as_text=True)
    assert 'form:has(input[name="log_processing"][value="processor"]:checked)' in css


def test_lead_names_every_option_needed_to_deploy(client):
    lead = re.search(r'<p class="lead">(.*?)</p>', client.get("/").get_data(as_text=True), re.S)
    lead = " ".join(lead.group(1).split())
    in_words = {
        "vpc_id": "VPC",
        "subnet_ids": "subnets",
        "private_subnet_ids": "private subnets",
        "private_route_table_ids": "their route tables",
        "messages_api_subnet_id": "Messages API subnet",
    }
    assert {name for name, spec in SPECS.items() if spec.required} == set(in_words)
    for words in in_words.values():
        assert words in lead
    assert "processor" in lead


def test_crypto_key_is_a_password_field_with_advice(client):
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="crypto_key"[^>]*type="password"', page)
    assert "Keep this key somewhere safe" in page
    assert "upgrade" in page
    assert 'id="crypto_key-generate"' in page


def test_odd_query_values_prefill_without_failing(client):
    response = client.get("/?region=mars&connection_min_size=lots&subnet_ids=<b>x</b>")
    assert response.status_code == 200
    values = FormValues(response.get_data(as_text=True)).values
    assert values["connection_min_size"] == "lots"
    assert values["subnet_ids"].strip() == "<b>x</b>"


# Submitting.


def test_valid_submit_redirects_to_preview(client):
    response = submit(client, VALID_FORM)
    assert response.status_code == 303
    assert re.fullmatch(r"/preview/[\w-]{20,}", urlsplit(response.headers["Location"]).path)


def test_empty_crypto_key_and_table_prefix_are_generated(client):
    url = preview_url(client, {**VALID_FORM, "crypto_key": "", "table_prefix": ""})
    parameters = json.loads(client.get(url + "/parameters.json").get_data(as_text=True))
    values = {entry["ParameterKey"]: entry["ParameterValue"] for entry in parameters}
    assert len(values["CryptoKey"]) == 44
    assert values["TablePrefix"].startswith("autopush_")


def test_processor_fields_are_ignored_with_another_choice(client):
    response = submit(client, VALID_FORM, processor_code_key="not a zip", log_processing="firehose")
    assert response.status_code == 303


def test_processor_submit(client):
    assert submit(client, PROCESSOR_FORM).status_code == 303


BAD_INPUTS = [
    # (base form, overrides, field that shows the error, part of its message)
    (VALID_FORM, {"stack_name": "1stack"}, "stack_name", "is not valid"),
    (VALID_FORM, {"stack_name": "a" * 129}, "stack_name", "Too long"),
    (VALID_FORM, {"region": "mars-1"}, "region", "Must be one of"),
    (VALID_FORM, {"crypto_key": "not-a-key"}, "crypto_key", "Not a valid key list"),
    (VALID_FORM, {"crypto_key": f"{KNOWN_KEY},{KNOWN_KEY}"}, "crypto_key", "listed twice"),
    (VALID_FORM, {"table_prefix": "ab"}, "table_prefix", "Too short"),
    (VALID_FORM, {"table_prefix": "my tables"}, "table_prefix", "is not valid"),
    (VALID_FORM, {"reuse_tables": "y", "table_prefix": ""}, "table_prefix", "earlier deployment"),
    (VALID_FORM, {"reuse_tables": "y", "crypto_key": ""}, "crypto_key", "earlier deployment"),
    (VALID_FORM, {"vpc_id": ""}, "vpc_id", "Required"),
    (VALID_FORM, {"vpc_id": "vpc-xyz"}, "vpc_id", "is not valid"),
    (VALID_FORM, {"subnet_ids": ""}, "subnet_ids", "Required"),
    (VALID_FORM, {"subnet_ids": "subnet-0123456789abcdef0"}, "subnet_ids", "at least 2"),
    (VALID_FORM, {"subnet_ids": "subnet-bad,subnet-0123456789abcdef1"}, "subnet_ids", "not valid"),
    (
        VALID_FORM,
        {"subnet_ids": "subnet-0123456789abcdef0\nsubnet-0123456789abcdef0"},
        "subnet_ids",
        "only once",
    ),
    (VALID_FORM, {"log_processing": "sometimes"}, "log_processing", "Must be one of"),
    (VALID_FORM, {"connection_instance_type": "t2.nano"}, "connection_instance_type", "one of"),
    (VALID_FORM, {"connection_min_size": "one"}, "connection_min_size", "whole number"),
    (VALID_FORM, {"connection_max_size": "0"}, "connection_max_size", "from 1 to 100"),
    (VALID_FORM, {"connection_desired_capacity": "9"}, "connection_desired_capacity", "between"),
    (VALID_FORM, {"endpoint_min_size": "5"}, "endpoint_max_size", "above the minimum"),
    (VALID_FORM, {"endpoint_max_size": "1"}, "endpoint_max_size", "above the minimum"),
    (VALID_FORM, {"endpoint_max_size": "101"}, "endpoint_max_size", "from 1 to 100"),
    (VALID_FORM, {"autopush_image": "My Image"}, "autopush_image", "is not valid"),
    (VALID_FORM, {"certificate_arn": "arn:nope"}, "certificate_arn", "is not valid"),
    (VALID_FORM, {"key_name": "admin"}, "ssh_cidr", "admin network"),
    (VALID_FORM, {"ssh_cidr": "203.0.113.0/24"}, "key_name", "key pair"),
    (VALID_FORM, {"key_name": "admin", "ssh_cidr": "0.0.0.0/0"}, "ssh_cidr", "whole internet"),
    (VALID_FORM, {"key_name": "admin", "ssh_cidr": "10.0.0.1/24"}, "ssh_cidr", "host bits"),
    (VALID_FORM, {"key_name": "admin", "ssh_cidr": "10.0.0/8"}, "ssh_cidr", "is not valid"),
    (PROCESSOR_FORM, {"private_subnet_ids": ""}, "private_subnet_ids", "Required"),
    (PROCESSOR_FORM, {"private_subnet_ids": "subnet-x"}, "private_subnet_ids", "not valid"),
    (PROCESSOR_FORM, {"messages_api_subnet_id": ""}, "messages_api_subnet_id", "Required"),
    (PROCESSOR_FORM, {"processor_code_bucket": "No_Bucket"}, "processor_code_bucket", "not valid"),
    (PROCESSOR_FORM, {"processor_code_key": "code.tar"}, "processor_code_key", "not valid"),
    (PROCESSOR_FORM, {"redis_node_type": "cache.huge"}, "redis_node_type", "one of"),
    (PROCESSOR_FORM, {"messages_api_min_size": "0"}, "messages_api_min_size", "from 1 to 100"),
    (PROCESSOR_FORM, {"messages_api_image": "Bad Image"}, "messages_api_image", "not valid"),
]


@pytest.mark.parametrize(
    ("base", "overrides", "field", "message"),
    BAD_INPUTS,
    ids=[f"{field}-{i}" for i, (_, _, field, _) in enumerate(BAD_INPUTS)],
)
def test_bad_input_shows_message_next_to_field_and_keeps_the_rest(
    client, base, overrides, field, message
):
    typed = {**base, **overrides}
    response = client.post("/", data=typed)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in (error_of(page, field) or ""), error_summary(response)
    assert (
        re.search(
            rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', page
        )
        or field == "log_processing"
    )
    shown = FormValues(page).values
    for name, value in typed.items():
        if name == "crypto_key":
            assert shown.get(name, "") == ""  # never sent back
        elif name == "reuse_tables":
            assert shown.get(name) == "y"
        elif SPECS[name].kind == "choice" and value not in SPECS[name].choices:
            continue  # a select cannot show a value it does not offer
        else:
            assert shown.get(name, "").strip() == value, name


def test_typed_crypto_key_is_kept_sealed_across_a_form_error(client):
    """Issue 6 item 4: the key survives a form error, never in clear in the page."""
    page = submit(client, VALID_FORM, vpc_id="bad").get_data(as_text=True)
    assert "The crypto key you typed is kept" in page
    assert KNOWN_KEY not in page
    shown = FormValues(page).values
    assert shown["crypto_key"] == ""
    assert shown["crypto_key_sealed"]
    # The browser sends the corrected form back as it is: the key comes with it.
    fixed = client.post("/", data={**shown, "vpc_id": VALID_FORM["vpc_id"]})
    assert fixed.status_code == 303
    path = urlsplit(fixed.headers["Location"]).path
    assert KNOWN_KEY in client.get(path + "/parameters.json").get_data(as_text=True)
    # In another browser session the sealed field is worth nothing: a new key is made.
    other = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test"})
    stranger = other.test_client()
    moved = stranger.post("/", data={**shown, "vpc_id": VALID_FORM["vpc_id"]})
    path = urlsplit(moved.headers["Location"]).path
    assert KNOWN_KEY not in stranger.get(path + "/parameters.json").get_data(as_text=True)


def test_a_typed_key_replaces_the_kept_one(client):
    shown = FormValues(submit(client, VALID_FORM, vpc_id="bad").get_data(as_text=True)).values
    other_key = "q0FZ0d3Vt1o9kLh4n0X2cW8uJ5yR7bT3eA6sD1fG2hI="
    fixed = client.post(
        "/", data={**shown, "vpc_id": VALID_FORM["vpc_id"], "crypto_key": other_key}
    )
    path = urlsplit(fixed.headers["Location"]).path
    parameters = client.get(path + "/parameters.json").get_data(as_text=True)
    assert other_key in parameters and KNOWN_KEY not in parameters


def test_an_invalid_crypto_key_is_dropped_with_a_note(client):
    page = submit(client, VALID_FORM, crypto_key="not-a-key").get_data(as_text=True)
    assert "never sent back" in page
    assert "not-a-key" not in page
    assert "crypto_key_sealed" not in page


def test_empty_post_asks_for_what_a_deployment_needs(client):
    response = client.post("/", data={})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Required" in error_of(page, "vpc_id")
    assert "Required" in error_of(page, "subnet_ids")


def test_bad_and_missing_options_are_reported_in_one_round(client):
    typed = {**VALID_FORM, "stack_name": "9bad", "vpc_id": "", "subnet_ids": ""}
    response = client.post("/", data=typed)
    assert response.status_code == 422
    assert error_summary(response) == {
        "stack_name": "'9bad' is not valid: give " + SPECS["stack_name"].allowed + ".",
        "vpc_id": "Required: " + SPECS["vpc_id"].allowed + ".",
        "subnet_ids": "Required: " + SPECS["subnet_ids"].allowed + ".",
    }
    shown = FormValues(response.get_data(as_text=True)).values
    assert shown["stack_name"] == "9bad"
    assert shown["region"] == "eu-west-1"
    assert shown["table_prefix"] == "autopush_test"


def test_processor_bad_bucket_does_not_hide_missing_private_subnets(client):
    typed = {**PROCESSOR_FORM, "processor_code_bucket": "Bad_Bucket", "private_subnet_ids": ""}
    response = client.post("/", data=typed)
    assert response.status_code == 422
    errors = error_summary(response)
    assert set(errors) == {"processor_code_bucket", "private_subnet_ids"}
    assert "'Bad_Bucket' is not valid" in errors["processor_code_bucket"]
    assert errors["private_subnet_ids"].startswith("Required")
    shown = FormValues(response.get_data(as_text=True)).values
    assert shown["processor_code_bucket"] == "Bad_Bucket"
    assert shown["messages_api_subnet_id"] == "subnet-0123456789abcdef2"
    assert shown["log_processing"] == "processor"
    assert shown["vpc_id"] == "vpc-0123456789abcdef0"


ODD_VALUES = ["", " ", "x" * 5000, "\x00", "<script>alert(1)</script>", "😀", "-1", "1e9", "%s%n{}"]


@pytest.mark.parametrize("name", list(SPECS))
def test_no_input_gives_a_server_error(client, name):
    for value in ODD_VALUES:
        response = submit(client, PROCESSOR_FORM, **{name: value})
        assert response.status_code in (303, 422), (name, value)
        assert "<script>alert" not in response.get_data(as_text=True)
        assert client.get("/", query_string={name: value}).status_code == 200


# The preview.


def test_preview_page(client):
    page = client.get(preview_url(client)).get_data(as_text=True)
    assert "Preview: stack <code>push-test</code> in eu-west-1" in page
    assert "Resources by type" in page
    assert "AWS::DynamoDB::Table" in page
    assert "Open ports" in page
    assert "IAM permissions" in page
    assert "<svg" in page or "No diagram:" in page
    # cfn-lint's findings, or the note that they follow (tests/test_form_review.py)
    assert "No findings." in page or 'class="finding' in page or "still checking" in page
    assert "51,200" in page
    assert 'class="highlight"' in page
    assert (
        html.escape(
            "aws cloudformation create-stack --region eu-west-1 --stack-name push-test "
            "--template-body file://push-test.template.json "
            "--parameters file://push-test.parameters.json",
            quote=True,
        )
        in page
    )
    assert "only file that contains the crypto key" in " ".join(page.split())


def test_preview_template_json_and_yaml(client):
    url = preview_url(client)
    json_page = client.get(url).get_data(as_text=True)
    yaml_page = client.get(url + "?format=yaml").get_data(as_text=True)
    assert "AWSTemplateFormatVersion" in json_page
    assert '<span class="p">{</span>' in json_page  # JSON, highlighted
    assert "AWSTemplateFormatVersion" in yaml_page
    assert '<span class="p">{</span>' not in yaml_page
    assert 'aria-current="page">YAML' in " ".join(yaml_page.split())


def test_preview_summary_in_plain_words(client):
    url = preview_url(client, PROCESSOR_FORM)
    page = html.unescape(client.get(url).get_data(as_text=True))
    template = json.loads(client.get(url + "/template.json").get_data(as_text=True))
    expected = summary.summarize(template)
    for resource_type, count in expected.resource_counts:
        assert f'<code>{resource_type}</code></td><td class="number">{count}</td>' in page
    for sentence in expected.ingress:
        assert sentence in page
    for role, sentences in expected.permissions.items():
        assert f"<h4><code>{role}</code></h4>" in page
        for sentence in sentences:
            assert sentence in page


def test_preview_lists_lint_findings(client, monkeypatch):
    finding = lint.Finding("E3012", "error", "Property should be of type String", "Resources/X")
    monkeypatch.setattr(lint, "findings", lambda template_json, regions, **_: [finding])
    page = client.get(preview_url(client)).get_data(as_text=True)
    assert "No findings." not in page
    assert "<code>E3012</code> Property should be of type String" in page
    assert "Resources/X" in page


def test_preview_explains_a_missing_diagram(client, monkeypatch):
    def unavailable(template):
        raise diagram.DiagramUnavailable("Graphviz is not installed: apt-get install graphviz")

    monkeypatch.setattr(diagram, "render_svg", unavailable)
    page = client.get(preview_url(client)).get_data(as_text=True)
    assert "No diagram: Graphviz is not installed: apt-get install graphviz" in page
    assert "<svg" not in page


def test_preview_draws_the_diagram_inline(client):
    page = client.get(preview_url(client)).get_data(as_text=True)
    figure = page[page.index('<figure class="diagram"') :]
    assert figure.split(">", 1)[1].lstrip().startswith("<svg")
    assert "<?xml" not in page


def test_highlight_css_is_served(client):
    response = client.get("/highlight.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert ".highlight" in response.get_data(as_text=True)


def test_preview_warns_over_the_inline_limit(client, monkeypatch):
    monkeypatch.setattr(render, "INLINE_TEMPLATE_LIMIT", 1000)
    page = client.get(preview_url(client)).get_data(as_text=True)
    assert 'id="size-warning"' in page
    assert "--template-url" in page


def test_preview_has_no_size_warning_when_small(client):
    page = client.get(preview_url(client)).get_data(as_text=True)
    assert 'id="size-warning"' not in page


# Downloads.


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_template_download(client, fmt):
    url = preview_url(client)
    response = client.get(f"{url}/template.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=push-test.template.{fmt}"
    )
    text = response.get_data(as_text=True)
    template = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert "Resources" in template
    assert "CryptoKey" in template["Parameters"]
    assert KNOWN_KEY not in text


def test_json_and_yaml_downloads_are_the_same_template(client):
    url = preview_url(client)
    from_json = json.loads(client.get(url + "/template.json").get_data(as_text=True))
    from_yaml = yaml.safe_load(client.get(url + "/template.yaml").get_data(as_text=True))
    assert from_json == from_yaml


def test_parameters_download(client):
    response = client.get(preview_url(client, PROCESSOR_FORM) + "/parameters.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=push-test.parameters.json"
    )
    assert response.headers["Cache-Control"] == "no-store"
    values = {e["ParameterKey"]: e["ParameterValue"] for e in json.loads(response.data)}
    assert values["CryptoKey"] == KNOWN_KEY
    assert values["VpcId"] == "vpc-0123456789abcdef0"
    assert values["SubnetIds"] == "subnet-0123456789abcdef0,subnet-0123456789abcdef1"
    assert values["PrivateSubnetIds"] == "subnet-0123456789abcdef2,subnet-0123456789abcdef3"
    assert values["ProcessorCodeBucket"] == "my-processor-code"
    assert values["TablePrefix"] == "autopush_test"


# The crypto key never reaches a page.


def test_crypto_key_appears_only_in_the_parameters_file(client):
    pages = [submit(client, VALID_FORM, subnet_ids="subnet-bad")]  # error re-render
    posted = submit(client, VALID_FORM, reuse_tables="y")
    pages.append(posted)
    url = urlsplit(posted.headers["Location"]).path
    preview = client.get(url)
    share = re.search(r'id="share-url" readonly value="([^"]+)"', preview.get_data(as_text=True))
    pages += [
        preview,
        client.get(url + "?format=yaml"),
        client.get(url + "/template.json"),
        client.get(url + "/template.yaml"),
        client.get(html.unescape(share.group(1))),
        client.get("/"),
        client.get("/highlight.css"),
        client.get("/no-such-page"),
    ]
    for response in pages:
        assert KNOWN_KEY not in response.get_data(as_text=True), response.request.path
        for header, value in response.headers.items():
            assert KNOWN_KEY not in value, header
    assert KNOWN_KEY in client.get(url + "/parameters.json").get_data(as_text=True)


def test_session_cookie_holds_nothing_that_unlocks_a_preview(app, client):
    url = preview_url(client)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert set(data) <= {"sid", "csrf_token"}
    assert KNOWN_KEY not in json.dumps(data)
    assert url.rsplit("/", 1)[1] not in cookie
    # The cookie alone (in another client) opens no preview: it does not know the URL,
    # and the URL's sealed token is the only place the options are.
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert other.get(url + "/parameters.json").status_code == 200  # both together do
    assert app.test_client().get(url + "/parameters.json").status_code == 404


# Share link.


def test_share_link_round_trip(client):
    typed = {**PROCESSOR_FORM, "reuse_tables": "y", "key_name": "admin", "ssh_cidr": "10.0.0.0/8"}
    url = preview_url(client, typed)
    page = client.get(url).get_data(as_text=True)
    share = html.unescape(re.search(r'id="share-url" readonly value="([^"]+)"', page).group(1))
    assert share.startswith("http://localhost/?")
    query = parse_qs(urlsplit(share).query)
    assert "crypto_key" not in query
    assert query["reuse_tables"] == ["y"]
    assert query["subnet_ids"] == ["subnet-0123456789abcdef0,subnet-0123456789abcdef1"]
    shown = FormValues(client.get(share).get_data(as_text=True)).values
    for name, value in typed.items():
        if name != "crypto_key":
            assert split(shown[name]) == split(value), name
    # Submitted again (with the key, which the link never holds), the same options.
    again = preview_url(client, {**shown, "crypto_key": KNOWN_KEY})
    first = client.get(url + "/parameters.json").get_data(as_text=True)
    assert client.get(again + "/parameters.json").get_data(as_text=True) == first


def split(value: str) -> list[str]:
    return [item for item in re.split(r"[,\s]+", value) if item]


# Expiry, CSRF, errors, headers, configuration.


def test_unknown_preview_is_a_friendly_404(client):
    for path in ("/preview/nope", "/preview/nope/template.json", "/preview/nope/parameters.json"):
        response = client.get(path)
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "no longer available" in page
        assert 'href="/"' in page


def test_expired_preview_is_a_friendly_404():
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "PREVIEW_TTL_SECONDS": 0})
    client = app.test_client()
    url = preview_url(client)
    assert client.get(url).status_code == 404
    assert client.get(url + "/parameters.json").status_code == 404


def test_preview_belongs_to_the_browser_session_that_made_it(app, client):
    url = preview_url(client)
    assert app.test_client().get(url + "/parameters.json").status_code == 404


@pytest.mark.parametrize("name", ["template.xml", "template.", "parameters.yaml", "key.txt"])
def test_unknown_download_name_is_a_plain_404(client, name):
    """Not the "expired" page: the preview is there, the file name is wrong."""
    url = preview_url(client)
    for preview in (url, "/preview/nope"):
        response = client.get(f"{preview}/{name}")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "There is no page at this address." in page
        assert "no longer available" not in page
    assert client.get(url).status_code == 200  # the preview itself still works


def test_post_without_csrf_token_is_rejected():
    app = create_app({"TESTING": True, "SECRET_KEY": "test"})
    client = app.test_client()
    response = client.post("/", data=VALID_FORM)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "security token" in page
    assert "Traceback" not in page
    token = FormValues(client.get("/").get_data(as_text=True)).values["csrf_token"]
    assert client.post("/", data={**VALID_FORM, "csrf_token": token}).status_code == 303


def test_not_found_and_wrong_method_pages(client):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "There is no page at this address." in missing.get_data(as_text=True)
    wrong = client.put("/")
    assert wrong.status_code == 405
    assert "Start again from the form" in wrong.get_data(as_text=True)


def test_server_error_page_has_no_stack_trace():
    app = create_app({"SECRET_KEY": "test", "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert "secret internals" not in page
    assert "Traceback" not in page


def test_oversized_post_is_refused_politely(client):
    response = client.post("/", data={"stack_name": "x" * 300_000})
    assert response.status_code == 413
    assert "larger than any form needs" in response.get_data(as_text=True)


def test_security_headers(client):
    for response in (client.get("/"), client.get(preview_url(client))):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert client.get(preview_url(client)).headers["Cache-Control"] == "no-store"


def test_pages_use_only_local_assets(client):
    for page in (client.get("/"), client.get(preview_url(client))):
        text = page.get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', text)
        assert "style=" not in text.split("<svg")[0]


def test_configuration_from_environment(monkeypatch):
    secret = "from-the-environment-k3W9dXv2pQ7rT1yU8iO0aS5dF6gH4jK2lZ9xC3vB7nM"
    monkeypatch.setenv("PUSHSTACK_SECRET_KEY", secret)
    monkeypatch.setenv("PUSHSTACK_PREVIEW_TTL_SECONDS", "60")
    app = create_app()
    assert app.config["SECRET_KEY"] == secret
    assert app.config["PREVIEW_TTL_SECONDS"] == 60
    assert not app.debug


def test_wsgi_module_holds_the_app(monkeypatch):
    monkeypatch.delenv("PUSHSTACK_SECRET_KEY", raising=False)
    import wsgi

    assert wsgi.app.name == "webapp"


def test_random_secret_key_only_on_localhost(monkeypatch):
    monkeypatch.delenv("PUSHSTACK_SECRET_KEY", raising=False)
    first, second = create_app(), create_app()
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    with pytest.raises(RuntimeError, match="PUSHSTACK_SECRET_KEY"):
        create_app({"BIND": "0.0.0.0:5000"})


def test_preview_shows_indented_json_even_when_the_file_is_compact(client):
    url = preview_url(client, PROCESSOR_FORM)
    download = client.get(url + "/template.json").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert '<span class="w">  </span><span class="nt">&quot;Resources&quot;</span>' in page or (
        '<span class="w">  </span><span class="nt">"Resources"</span>' in page
    )
    assert ("Shown indented for reading" in page) == ("\n" not in download.strip())


def test_a_long_yaml_is_offered_in_block_style_to_read_and_flow_style_to_deploy(client):
    """The processor's block-style YAML is over the inline limit: both files are offered,
    each saying what it is for; the same template either way."""
    url = preview_url(client, PROCESSOR_FORM)
    page = client.get(url).get_data(as_text=True)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))
    readable = client.get(url + "/template.readable.yaml")
    flow = client.get(url + "/template.yaml")
    block_text, flow_text = readable.get_data(as_text=True), flow.get_data(as_text=True)
    assert "push-test.template.readable.yaml" in readable.headers["Content-Disposition"]
    assert len(block_text.encode()) > render.INLINE_TEMPLATE_LIMIT > len(flow_text.encode())
    assert block_text.count("\n") > 1000 and flow_text.strip().count("\n") <= 1
    assert yaml.safe_load(block_text) == yaml.safe_load(flow_text)
    size = f"{len(block_text.encode()):,}"
    assert (
        f"push-test.template.readable.yaml (template, YAML in block style, for reading: {size} "
        "bytes, over the inline limit, so CloudFormation takes it only from S3, --template-url)"
    ) in text
    assert "push-test.template.yaml (template, YAML in flow style, the template on one line" in text
    assert "within the inline limit, for --template-body" in text
    yaml_tab = client.get(url + "?format=yaml").get_data(as_text=True)
    assert 'id="yaml-style"' in yaml_tab and "Shown in block style for reading" in yaml_tab

    # A template whose block style fits: one YAML file, block style, and no other.
    small = preview_url(client, VALID_FORM)
    assert "readable.yaml" not in client.get(small).get_data(as_text=True)
    assert client.get(small + "/template.readable.yaml").status_code == 404
    assert client.get(small + "/template.yaml").get_data(as_text=True).count("\n") > 100


def test_crypto_key_never_reaches_a_log_line_even_when_a_page_fails(monkeypatch, caplog):
    """A failing preview gives the plain 500 page; neither it nor the logs carry the key."""
    app = create_app({"WTF_CSRF_ENABLED": False, "SECRET_KEY": "test"})  # not TESTING: real 500s
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    submit(client, VALID_FORM, subnet_ids="subnet-bad")
    url = preview_url(client, VALID_FORM)

    def broken(options):
        raise RuntimeError(f"cannot build for {options!r}")

    monkeypatch.setattr(webapp.preview, "build_template", broken)
    assert client.get(url + "/parameters.json").status_code == 500
    response = client.get(url)
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Traceback" not in page and "RuntimeError" not in page
    assert KNOWN_KEY not in page
    assert "cannot build" in caplog.text  # the failure is logged...
    assert KNOWN_KEY not in caplog.text  # ...without the key (Options' repr hides it)
