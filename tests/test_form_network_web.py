"""The form's network checks against the account (the sandbox): subnets AWS would refuse
are named next to their field; and what the form and update pages show of each field."""

import html
import re
import secrets

import boto3
import pytest
from test_web import FormValues, error_of

from webapp import create_app
from webapp.cloud import get_access


@pytest.fixture(scope="module")
def app(sandbox_server):
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "form-network-tests",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


def network(app, region="us-east-1"):
    with app.app_context():
        return get_access().cloud(region).sandbox_network()


def subnets_of(app, region="us-east-1"):
    """Every subnet the account holds in the region: id -> (VPC, zone)."""
    with app.app_context():
        return {
            s.subnet_id: (s.vpc_id, s.zone)
            for s in get_access().cloud(region).account_choices().subnets
        }


def the_form(client, **values):
    form = FormValues(client.get("/").get_data(as_text=True)).values
    form.update(stack_name=f"net-{secrets.token_hex(3)}", **values)
    return form


def test_subnets_of_another_vpc_are_named_with_their_vpc(client, app):
    home = network(app)
    other = {s: v for s, v in subnets_of(app).items() if v[0] != home.vpc_id}
    stray, (stray_vpc, _) = sorted(other.items())[0]
    form = the_form(
        client,
        engine="autopush-legacy",
        log_processing="processor",
        subnet_ids="\n".join([*home.public_subnet_ids, stray]),
        private_subnet_ids="\n".join([home.private_subnet_ids[0], stray]),
        messages_api_subnet_id=stray,
    )
    response = client.post("/", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name in ("subnet_ids", "private_subnet_ids", "messages_api_subnet_id"):
        message = error_of(page, name)
        assert message, name
        assert f"{stray} is in {stray_vpc}, not in {home.vpc_id}" in message, message
    assert home.public_subnet_ids[0] not in error_of(page, "subnet_ids")

    # The same subnets with their own VPC chosen: the VPC is what was wrong.
    form.update(vpc_id=stray_vpc)
    page = client.post("/", data=form).get_data(as_text=True)
    listed = ", ".join(home.public_subnet_ids)
    assert f"{listed} are in {home.vpc_id}, not in {stray_vpc}" in (error_of(page, "subnet_ids"))


def test_push_node_subnets_in_one_zone_are_refused(client, app):
    home = network(app)
    zones = subnets_of(app)
    public = home.public_subnet_ids[0]
    zone = zones[public][1]
    private = next(s for s in home.private_subnet_ids if zones[s][1] == zone)
    response = client.post("/", data=the_form(client, subnet_ids=f"{public}\n{private}"))
    assert response.status_code == 422
    message = error_of(response.get_data(as_text=True), "subnet_ids")
    assert f"{public} and {private} are both in {zone}" in message, message
    assert "takes one subnet per availability zone" in message

    # Two zones, but two subnets in one of them: an ALB takes one subnet per zone.
    three = "\n".join([*home.public_subnet_ids, private])
    message = error_of(
        client.post("/", data=the_form(client, subnet_ids=three)).get_data(True), "subnet_ids"
    )
    assert f"are both in {zone}" in message, message

    # One of each zone: accepted.
    assert client.post("/", data=the_form(client)).status_code == 303


def test_the_messages_api_subnet_is_in_a_zone_of_the_push_nodes(client, app, sandbox_server):
    region = "ap-south-1"  # a region of its own: the extra subnet troubles no other test
    away = network(app, region)
    ec2 = boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=sandbox_server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    used = {zone for vpc, zone in subnets_of(app, region).values() if vpc == away.vpc_id}
    spare = next(
        z["ZoneName"]
        for z in ec2.describe_availability_zones()["AvailabilityZones"]
        if z["ZoneName"] not in used
    )
    third = ec2.create_subnet(VpcId=away.vpc_id, CidrBlock="10.20.200.0/24", AvailabilityZone=spare)
    third_id = third["Subnet"]["SubnetId"]
    form = FormValues(client.get(f"/?region={region}").get_data(as_text=True)).values
    form.update(
        stack_name=f"net-{secrets.token_hex(3)}",
        engine="autopush-legacy",
        log_processing="processor",
        messages_api_subnet_id=third_id,
    )
    response = client.post("/", data=form)
    assert response.status_code == 422
    message = error_of(response.get_data(as_text=True), "messages_api_subnet_id")
    assert f"{third_id} is in {spare}, where no push-node subnet is" in message, message


def test_ids_the_account_does_not_hold_skip_the_zone_check(client):
    """A template for another account: unknown subnets' zones are not guessed."""
    form = the_form(
        client,
        vpc_id="vpc-0123456789abcdef0",
        subnet_ids="subnet-0123456789abcdef0\nsubnet-0123456789abcdef1",
    )
    assert client.post("/", data=form).status_code == 303


def test_subnet_choices_say_each_fact_once(client, app):
    home = network(app)
    page = client.get("/").get_data(as_text=True)
    for subnet_id in home.public_subnet_ids:
        line = html.unescape(re.search(rf"<code>{subnet_id}</code>(.*?)<button", page).group(1))
        for fact in ("public", "us-east-1"):
            assert line.count(fact) == 1, line


def test_legacy_fields_are_marked_for_their_engine(client):
    """The CSS hides them while autopush-rs is chosen (and the other way round)."""
    page = client.get("/").get_data(as_text=True)
    for field in ("table_prefix", "reuse_tables", "autopush_image"):
        wrapper = re.search(
            rf'<div class="field[^"]*"([^>]*)>\s*(?:<input[^>]*id="{field}"|<label for="{field}")',
            page,
        )
        assert wrapper and 'data-only-engine="autopush-legacy"' in wrapper.group(1), field
    assert re.search(
        r'<fieldset id="section-\d+" data-only-engine="autopush-legacy">\s*<legend>DynamoDB tables',
        page,
    )
    for field in ("store_node_type", "autoconnect_image"):
        assert re.search(rf'data-only-engine="autopush-rs">\s*<label for="{field}"', page), field


def doubled_headings(page: str) -> list[str]:
    """The fieldsets whose legend a label inside repeats."""
    doubled = []
    for legend, body in re.findall(
        r"<fieldset[^>]*>\s*<legend>(.*?)</legend>(.*?)</fieldset>", page, re.S
    ):
        labels = re.findall(r'<(?:label|p class="label")[^>]*>(.*?)</(?:label|p)>', body, re.S)
        words = {re.sub(r"<[^>]+>|\s+\(needed to deploy\)", "", label).strip() for label in labels}
        if legend.strip() in words:
            doubled.append(legend)
    return doubled


def test_the_form_and_the_update_form_name_each_question_once(client, app):
    page = client.get("/").get_data(as_text=True)
    assert doubled_headings(page) == []
    # A legacy stack, to update.
    form = the_form(client, engine="autopush-legacy")
    response = client.post("/", data=form)
    assert response.status_code == 303
    launched = client.post(response.headers["Location"] + "/launch", data={"acknowledge": "y"})
    assert launched.status_code == 303
    update = client.get(f"/stacks/{form['stack_name']}/update").get_data(as_text=True)
    assert doubled_headings(update) == []
    assert "Push engine" in update and "Crypto key" in update
    # The key's help says what an empty field does here: keep the stack's key.
    for name in ("crypto_key", "table_prefix"):  # an empty prefix is refused here
        help_text = re.search(rf'id="{name}-help">(.*?)</p>', update, re.S).group(1)
        assert "Generated" not in help_text, name
    assert "Leave it empty to keep the stack's key" in update

    # The update checks the subnets as the form does.
    values = FormValues(update).values
    stray = next(s for s, (vpc, _) in subnets_of(app).items() if vpc != values["vpc_id"])
    values.update(subnet_ids=values["subnet_ids"] + "\n" + stray, acknowledge="y")
    response = client.post(f"/stacks/{form['stack_name']}/update", data=values)
    assert response.status_code == 422
    assert f"{stray} is in" in error_of(response.get_data(as_text=True), "subnet_ids")
