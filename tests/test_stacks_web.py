"""The stack pages through Flask's test client, against a real sandbox (moto's server).

Launch every log-processing variant from a preview, watch it (page and JSON
API), list it, update it through a change set, delete it and find its tables
still there; the stuck states and AWS failures each get a page in plain words.
"""

import html
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

import pytest
from botocore.stub import Stubber
from listing import all_tables
from test_web import FormValues

from pushstack.cloud import (
    Change,
    ChangeSetView,
    CloudError,
    Failure,
    Progress,
    ResourceView,
    StackView,
)
from webapp import create_app
from webapp.cloud import SharedCache, get_access


@pytest.fixture(scope="module")
def sandbox_url(sandbox_server):
    """The session's sandbox (tests/conftest.py), with fake credentials set."""
    return sandbox_server.url


@pytest.fixture(scope="module")
def app(sandbox_url):
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "stacks-tests",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_url,
            "PROGRESS_INTERVAL_SECONDS": 2.0,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cloud(app):
    with app.app_context():
        return get_access().cloud()


def new_name(prefix: str = "web") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def page_text(response) -> str:
    """The page's words, as a reader sees them."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def preview(client, **values) -> str:
    """Submit the form as the sandbox pre-fills it, with ``values`` changed; the preview path.

    The engine is autopush 1.57.0's unless given: these cases were written for its
    tables and log processing; autopush-rs's launch has its own tests."""
    form = FormValues(client.get("/").get_data(as_text=True)).values
    form["engine"] = "autopush-legacy"
    form.update(values)
    response = client.post("/", data=form)
    assert response.status_code == 303, page_text(response)[:2000]
    return urlsplit(response.headers["Location"]).path


def launch(client, name: str, **values) -> str:
    """Launch a stack from its preview; the status page's path."""
    path = preview(client, stack_name=name, **values)
    response = client.post(path + "/launch", data={"acknowledge": "y"})
    assert response.status_code == 303, page_text(response)[:2000]
    return response.headers["Location"]


# The form, from the account.


def test_form_offers_the_sandbox_network_and_names_the_target(client, cloud):
    network = cloud.sandbox_network()
    response = client.get("/")
    page = response.get_data(as_text=True)
    values = FormValues(page).values
    # Pre-filled with the seeded network, ready to launch.
    assert values["vpc_id"] == network.vpc_id
    assert values["subnet_ids"].split() == list(network.public_subnet_ids)
    assert values["private_subnet_ids"].split() == list(network.private_subnet_ids)
    # Their route table, where the processor's S3 gateway endpoint goes.
    assert network.private_route_table_ids
    assert values["private_route_table_ids"].split() == list(network.private_route_table_ids)
    # ...and offered with the subnets each routes, as in an account (no sandbox pre-fill).
    for table in network.private_route_table_ids:
        routes = re.search(rf'<li data-vpc="{network.vpc_id}"><code>{table}</code>(.*?)</li>', page)
        assert routes, table
        for subnet_id in network.private_subnet_ids:
            assert subnet_id in routes.group(1)
    # The account's choices are offered, and typing stays possible (a datalist, not a select).
    assert re.search(r'<input[^>]*id="vpc_id"[^>]*list="vpc_id-choices"', page)
    assert f'<option value="{network.vpc_id}"' in page
    text = page_text(response)
    for subnet_id in network.public_subnet_ids:
        assert re.search(rf"{subnet_id} us-east-1\w, public \(route to an internet gateway\)", text)
    for subnet_id in network.private_subnet_ids:
        assert re.search(
            rf"{subnet_id} us-east-1\w, private \(internet through a NAT gateway\)", text
        )
    # moto's default VPC has no route out: its subnets are said to be private, and each
    # choice names its VPC, which the script filters them by.
    default_vpc = next(v.vpc_id for v in cloud.account_choices().vpcs if v.is_default)
    assert re.search(rf"private \(no route to the internet\), \S+ in {default_vpc}", text)
    for subnet_id in network.public_subnet_ids:
        assert re.search(rf'<li data-vpc="{network.vpc_id}"><code>{subnet_id}</code>', page)
    assert f'<option value="{network.certificate_arn}"' in page
    # The header names the live target and its account.
    assert re.search(r"Target: Sandbox \(moto on 127\.0\.0\.1:\d+\), account \d{12}", text)


# Launch.


def test_launch_needs_the_acknowledgement(client, cloud):
    name = new_name()
    path = preview(client, stack_name=name)
    page = client.get(path)
    text = page_text(page)
    assert "Launch the stack" in text
    assert "CAPABILITY_IAM" in text
    assert "RouterTable" in text and "MessageTable" in text  # what a delete keeps

    response = client.post(path + "/launch", data={})
    assert response.status_code == 422
    text = page_text(response)
    assert "Tick this box" in text
    assert "Check the values" in text  # what is about to be launched, again
    assert name not in [stack.name for stack in cloud.list_stacks()]


@pytest.mark.parametrize("log_processing", ["none", "firehose", "processor"])
def test_launch_watch_and_list_every_variant(client, log_processing):
    name = new_name(log_processing)
    location = launch(client, name, log_processing=log_processing)
    assert urlsplit(location).path == f"/stacks/{name}"

    response = client.get(location)
    assert response.status_code == 200
    text = page_text(response)
    assert "CREATE_COMPLETE" in text
    done, total = map(int, re.search(r"(\d+) of (\d+) resources done", text).groups())
    assert done == total > 10
    websocket = re.search(r"WebSocketURL .*? (ws://\S+)", text).group(1)
    assert websocket.startswith(f"ws://{name}-")
    assert "Point push clients at the WebSocket URL" in text
    assert "not emulated in the sandbox" in text  # the secret, shown, not hidden
    assert "aws dynamodb delete-table --table-name" in text
    if log_processing != "none":
        assert "LogBucketName" in text
        assert "aws s3 rb s3://push-logs-" in text

    api = client.get(f"/api/stacks/{name}")
    assert api.status_code == 200
    data = api.get_json()
    assert {"name", "status", "done", "total", "events", "outputs", "failure"} <= set(data)
    assert data["name"] == name
    assert data["status"] == "CREATE_COMPLETE"
    assert data["done"] == data["total"] == total
    assert data["failure"] is None
    assert data["outputs"]["WebSocketURL"] == websocket
    assert data["events"][-1]["status"] == "CREATE_COMPLETE"

    listing = page_text(client.get("/stacks"))
    assert re.search(rf"{name} CREATE_COMPLETE", listing)


def test_a_double_click_launches_one_stack(client, app, cloud):
    name = new_name("double")
    path = preview(client, stack_name=name)
    # Two browsers' worth of simultaneous clicks, same session, same preview.
    second = app.test_client()
    second.set_cookie(
        app.config.get("SESSION_COOKIE_NAME", "session"),
        client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")).value,
    )
    answers = []

    def click(browser):
        answers.append(browser.post(path + "/launch", data={"acknowledge": "y"}))

    threads = [threading.Thread(target=click, args=(browser,)) for browser in (client, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers.append(client.post(path + "/launch", data={"acknowledge": "y"}))  # a resubmit
    assert [answer.status_code for answer in answers] == [303, 303, 303], [
        re.search(r"Launch it now(.{0,600})", page_text(answer)).group(1)
        for answer in answers
        if answer.status_code != 303
    ]
    assert {answer.headers["Location"] for answer in answers} == {f"/stacks/{name}"}
    assert [stack.name for stack in cloud.list_stacks()].count(name) == 1


def test_a_taken_name_is_a_plain_message(client):
    name = new_name("taken")
    launch(client, name)
    path = preview(client, stack_name=name)  # another preview: another launch
    response = client.post(path + "/launch", data={"acknowledge": "y"})
    assert response.status_code == 409
    text = page_text(response)
    assert f"A stack named {name} already exists" in text
    assert "Choose another stack name" in text
    body = response.get_data(as_text=True)
    assert f'href="/stacks/{name}"' in body
    # The way on is the form, not the same launch again.
    assert "Launch the stack" not in text
    back = re.search(r'<a href="([^"]+)" id="back-to-form">', body)
    assert back and urlsplit(html.unescape(back.group(1))).path == "/"
    assert f"stack_name={name}" in html.unescape(back.group(1))


# Watching: shared, cached, and failures in plain words.


def test_many_watchers_make_one_events_call_per_interval(client, app, cloud, monkeypatch):
    name = new_name("watched")
    launch(client, name)
    calls = []
    original = cloud.progress
    monkeypatch.setattr(
        cloud, "progress", lambda ref, **given: calls.append(ref) or original(ref, **given)
    )
    with app.app_context():
        get_access().changed(name)
    answers = []

    def watch():
        answers.append(app.test_client().get(f"/api/stacks/{name}").status_code)

    threads = [threading.Thread(target=watch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 20
    assert calls == [name]


def test_the_page_follows_an_operation_another_process_started(client, app, cloud):
    """Several workers: the progress this one cached a moment ago predates an update
    another worker applied; the page shows the update, not the old end."""
    name = new_name("stale")
    launch(client, name)
    assert client.get(f"/api/stacks/{name}").get_json()["status"] == "CREATE_COMPLETE"
    # Another worker applies an update: this one's cache is not told.
    from pushstack.options import Options

    wanted = Options(**{**cloud.stack_options(name), "connection_max_size": 5})
    cloud.execute_change_set(
        cloud.create_change_set(
            name, wanted, keep_crypto_key=True, acknowledged=("CAPABILITY_IAM",)
        ),
        name,
    )
    page = client.get(f"/stacks/{name}").get_data(as_text=True)
    assert re.search(r'id="stack-state"[^>]*>UPDATE_COMPLETE<', page)


def test_shared_cache_asks_again_after_the_interval_and_keeps_failures():
    now = [0.0]
    cache = SharedCache(2.0, clock=lambda: now[0])
    asked = []
    assert cache.get("s", lambda: asked.append(1) or "first") == "first"
    assert cache.get("s", lambda: asked.append(1) or "second") == "first"
    now[0] = 2.5
    assert cache.get("s", lambda: asked.append(1) or "second") == "second"
    assert len(asked) == 2

    def throttled():
        asked.append(1)
        raise CloudError("AWS is throttling requests.", "Wait a minute.", "Throttling")

    now[0] = 5.0
    for _ in range(3):
        with pytest.raises(CloudError):
            cache.get("t", throttled)
    assert len(asked) == 3  # one call for three watchers


def test_an_ended_operation_is_kept_longer_than_a_running_one():
    """Watchers of a finished stack cost one read per PROGRESS_FINISHED_SECONDS, not per
    poll interval; a running one is read again after the interval."""
    now = [0.0]
    cache = SharedCache(2.0, clock=lambda: now[0])
    asked = []

    def fetch(finished):
        return lambda: asked.append(finished) or {"finished": finished}

    def keep(value):
        return 10.0 if value["finished"] else 0.0

    cache.get("running", fetch(False), keep_for=keep)
    cache.get("ended", fetch(True), keep_for=keep)
    now[0] = 2.5
    cache.get("running", fetch(False), keep_for=keep)
    cache.get("ended", fetch(True), keep_for=keep)
    assert asked == [False, True, False]  # the ended one not asked again
    now[0] = 10.5
    cache.get("ended", fetch(True), keep_for=keep)
    assert asked == [False, True, False, True]


def test_watching_a_finished_stack_reads_it_once_per_finished_period(
    client, app, cloud, monkeypatch
):
    name = new_name("ended")
    launch(client, name)
    calls = []
    original = cloud.progress
    monkeypatch.setattr(
        cloud, "progress", lambda ref, **given: calls.append(ref) or original(ref, **given)
    )
    monkeypatch.setitem(app.config, "PROGRESS_FINISHED_SECONDS", 60.0)
    with app.app_context():
        access = get_access()
        access.changed(name)
    monkeypatch.setattr(access.progress, "interval", 0.01)  # polls far apart, for the test
    for _ in range(5):
        assert client.get(f"/api/stacks/{name}").get_json()["finished"]
        time.sleep(0.02)
    assert calls == [name]


def test_throttled_api_says_when_to_come_back(client, cloud, monkeypatch):
    name = new_name("throttled")
    launch(client, name)
    stubber = Stubber(cloud._client("cloudformation"))
    for _ in range(10):  # more than the standard retry mode's attempts
        stubber.add_client_error("describe_stacks", "Throttling", "Rate exceeded", 400)
    with stubber:
        response = client.get(f"/api/stacks/{name}?region=us-east-1")
        page = client.get(f"/stacks/{name}")
    assert response.status_code == 429, response.get_json()
    assert response.headers["Retry-After"]
    data = response.get_json()
    assert "throttling" in data["error"]
    assert data["advice"]
    assert page.status_code == 429
    assert "throttling" in page_text(page)


def test_access_denied_names_the_action(client, cloud):
    stubber = Stubber(cloud._client("cloudformation"))
    stubber.add_client_error(
        "describe_stacks",
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/x is not authorized to perform: "
        "cloudformation:DescribeStacks",
        403,
    )
    with stubber:
        response = client.get("/stacks/anything")
    assert response.status_code == 403
    text = page_text(response)
    assert "Access denied" in text and "cloudformation:DescribeStacks" in text
    assert "Traceback" not in text


def test_unknown_stack_is_a_404_in_words(client):
    response = client.get("/stacks/never-launched")
    assert response.status_code == 404
    assert "never-launched" in page_text(response)
    api = client.get("/api/stacks/never-launched")
    assert api.status_code == 404
    assert api.get_json()["error"]


def test_a_failure_is_pinned_at_the_top(client, cloud, monkeypatch):
    """The earliest real failure, as the cloud module reports it, above everything else."""
    name = new_name("failing")
    launch(client, name)
    real = cloud.stack(name)
    failed = Progress(
        name=name,
        stack_id=real.stack_id,
        status="ROLLBACK_COMPLETE",
        reason="The following resource(s) failed to create: [ConnectionNodes].",
        done=7,
        total=20,
        events=(),
        outputs={},
        failure=Failure("ConnectionNodes", "Received 0 SUCCESS signal(s) out of 2"),
        finished=True,
    )
    monkeypatch.setattr(cloud, "progress", lambda ref, **given: failed)
    monkeypatch.setattr(
        cloud, "stack", lambda ref: _replace(real, status="ROLLBACK_COMPLETE", outputs=())
    )
    response = client.get(f"/stacks/{name}")
    body = response.get_data(as_text=True)
    failure = body.index('id="stack-failure"')
    assert failure < body.index('id="status-title"')
    assert "Received 0 SUCCESS signal(s) out of 2" in body[failure : failure + 600]
    text = page_text(response)
    assert "Delete it, then launch again" in text
    assert "7 of 20 resources done" in text


# Update through a change set.


def test_update_shows_the_changes_then_applies_them(client, cloud):
    name = new_name("update")
    launch(client, name)
    response = client.get(f"/stacks/{name}/update")
    assert response.status_code == 200
    form = FormValues(response.get_data(as_text=True)).values
    assert form["autopush_image"] == "mozilla/autopush:1.57.0"
    assert form["crypto_key"] == ""  # kept unless a new one is given
    assert "Leave it empty to keep the stack's key" in page_text(response)

    form.update(autopush_image="mozilla/autopush:1.58.0", connection_max_size="6")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 422  # no acknowledgement yet
    form["acknowledge"] = "y"
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    changes = client.get(response.headers["Location"])
    assert changes.status_code == 200
    assert "Apply these changes" in page_text(changes)
    execute = FormValues(changes.get_data(as_text=True)).values
    response = client.post(f"/stacks/{name}/change-set/execute", data=execute)
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    text = page_text(status)
    assert "UPDATE_COMPLETE" in text
    assert "mozilla/autopush:1.58.0" in text  # the parameters table


def test_update_form_holds_the_stacks_values_not_the_sandbox_network(client, cloud, monkeypatch):
    name = new_name("values")
    launch(client, name)
    values = {**cloud.stack_options(name), "vpc_id": "vpc-0aaaaaaaaaaaaaaaa"}
    values["subnet_ids"] = ("subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc")
    monkeypatch.setattr(cloud, "stack_options", lambda ref: values)
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    assert form["vpc_id"] == "vpc-0aaaaaaaaaaaaaaaa"
    assert form["subnet_ids"].split() == ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]


def test_update_warns_before_new_tables_or_a_lost_log_bucket(client):
    """The sandbox lists no change for new values; the page still warns."""
    name = new_name("risky")
    launch(client, name, log_processing="firehose")
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(table_prefix="autopush_other", log_processing="none", acknowledge="y")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    text = page_text(client.get(response.headers["Location"]))
    assert "Warning: this update puts data at risk" in text
    assert "The table prefix changes: the stack would use new, empty tables" in text
    assert "the log bucket leaves the stack" in text
    assert "Apply these changes anyway" in text


def test_updating_a_legacy_stack_to_autopush_rs_says_what_moves_first(client, cloud):
    """#11 item 6: the change set shows the new store, and the page says the tables are
    kept but no longer read, before anything is executed."""
    name = new_name("engine")
    launch(client, name)
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    assert form["engine"] == "autopush-legacy"  # read back from the stack
    form.update(engine="autopush-rs", acknowledge="y")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    text = page_text(client.get(response.headers["Location"]))
    assert "The engine changes to autopush-rs" in text
    assert "The DynamoDB tables leave the stack but are kept in your account" in text
    assert "The table prefix changes" not in text  # autopush-rs has no prefix
    assert "PushStore" in text  # the change set lists the new store
    assert "Apply these changes anyway" in text
    assert cloud.stack(name).status == "CREATE_COMPLETE"  # nothing executed yet


def test_change_set_flags_data_at_risk(client, cloud, monkeypatch):
    name = new_name("risky")
    launch(client, name)
    risky = ChangeSetView(
        change_set_id="arn:aws:cloudformation:us-east-1:123456789012:changeSet/pushstack-1/abc",
        stack_name="risky",
        status="CREATE_COMPLETE",
        execution_status="AVAILABLE",
        reason="",
        changes=(
            Change("Modify", "RouterTable", "AWS::DynamoDB::Table", "True", "replaces the table"),
            Change("Modify", "ConnectionNodes", "AWS::AutoScaling::AutoScalingGroup", "False"),
        ),
    )
    monkeypatch.setattr(cloud, "change_set", lambda change_set_id, stack_name: risky)
    response = client.get(f"/stacks/{name}/change-set?id={risky.change_set_id}")
    text = page_text(response)
    assert "Warning: this update puts data at risk" in text
    assert "RouterTable (AWS::DynamoDB::Table): replaces the table" in text
    assert "Apply these changes anyway" in text


# Delete and recovery.


def test_delete_lists_what_is_kept_and_keeps_the_tables(client, cloud):
    name = new_name("delete")
    launch(client, name, log_processing="firehose")
    response = client.get(f"/stacks/{name}/delete")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    kept = body[body.index('id="kept"') : body.index("</ul>", body.index('id="kept"'))]
    deleted = body[body.index('id="deleted"') : body.index("</ul>", body.index('id="deleted"'))]
    for logical_id in ("RouterTable", "MessageTable", "CryptoKeySecret", "LogBucket"):
        code = f"<code>{logical_id}</code>"
        assert code in kept and code not in deleted
    assert "<code>ConnectionNodes</code>" in deleted

    tables = {
        resource.physical_id
        for resource in cloud.resources(name)
        if resource.resource_type == "AWS::DynamoDB::Table"
    }
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    text = page_text(status)
    assert "DELETE_COMPLETE" in text
    assert "This stack is deleted" in text
    assert name not in page_text(client.get("/stacks"))
    dynamodb = cloud.target.client("dynamodb", "us-east-1")
    assert tables <= set(all_tables(dynamodb))


def test_retry_a_failed_delete_keeping_what_blocks(client, cloud, monkeypatch):
    name = new_name("stuck")
    launch(client, name)
    real = cloud.stack(name)
    resources = cloud.resources(name)
    blocked = [
        _replace(r, status="DELETE_FAILED", reason="has a dependent object")
        if r.logical_id == "ConnectionNodeSecurityGroup"
        else r
        for r in resources
    ]
    monkeypatch.setattr(cloud, "stack", lambda ref: _replace(real, status="DELETE_FAILED"))
    monkeypatch.setattr(cloud, "resources", lambda ref: blocked)
    deletes = []
    monkeypatch.setattr(cloud, "delete", lambda ref, retain=(): deletes.append(list(retain)))

    assert "Retry the delete" in page_text(client.get(f"/stacks/{name}"))
    page = client.get(f"/stacks/{name}/delete")
    text = page_text(page)
    assert "ConnectionNodeSecurityGroup (AWS::EC2::SecurityGroup): has a dependent object" in text
    assert 'value="ConnectionNodeSecurityGroup"' in page.get_data(as_text=True)
    response = client.post(
        f"/stacks/{name}/delete",
        data={"retain": "ConnectionNodeSecurityGroup", "confirm_name": name},
    )
    assert response.status_code == 303
    assert deletes == [["ConnectionNodeSecurityGroup"]]


def test_continue_a_failed_update_rollback(client, cloud, monkeypatch):
    name = new_name("rollback")
    launch(client, name)
    real = cloud.stack(name)
    failed = [
        _replace(r, status="UPDATE_FAILED", reason="Resource handler returned message: boom")
        if r.logical_id == "EndpointNodes"
        else r
        for r in cloud.resources(name)
    ]
    monkeypatch.setattr(cloud, "stack", lambda ref: _replace(real, status="UPDATE_ROLLBACK_FAILED"))
    monkeypatch.setattr(cloud, "resources", lambda ref: failed)
    skipped = []
    monkeypatch.setattr(
        cloud, "continue_update_rollback", lambda ref, skip=(): skipped.append(list(skip))
    )
    text = page_text(client.get(f"/stacks/{name}"))
    assert "Continue the rollback" in text
    assert "EndpointNodes (AWS::AutoScaling::AutoScalingGroup)" in text
    response = client.post(f"/stacks/{name}/continue-rollback", data={"skip": "EndpointNodes"})
    assert response.status_code == 303
    assert skipped == [["EndpointNodes"]]


def test_rolled_back_stack_is_deleted_then_relaunched(client, cloud, monkeypatch):
    name = new_name("relaunch")
    launch(client, name, autopush_image="mozilla/autopush:1.56.0")
    real = cloud.stack(name)
    original_stack = cloud.stack
    monkeypatch.setattr(cloud, "stack", lambda ref: _replace(real, status="ROLLBACK_COMPLETE"))
    page = client.get(f"/stacks/{name}/delete?relaunch=1")
    assert "Delete it, then launch again" in page_text(page)
    monkeypatch.setattr(cloud, "stack", original_stack)
    response = client.post(f"/stacks/{name}/delete", data={"relaunch": "1", "confirm_name": name})
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    body = status.get_data(as_text=True)
    link = html.unescape(re.search(r'id="relaunch" href="([^"]+)"', body).group(1))
    form = FormValues(client.get(link).get_data(as_text=True)).values
    assert form["stack_name"] == name
    assert form["autopush_image"] == "mozilla/autopush:1.56.0"
    assert form["table_prefix"] != real.parameters["TablePrefix"]  # a fresh prefix


def test_termination_protection_chosen_at_launch_keeps_the_stack(client):
    """The launch's option reaches the stack, its page says so, and a delete is refused
    in words (the sandbox stores the setting but would delete anyway; AWS refuses)."""
    name = new_name("protected")
    path = preview(client, stack_name=name)
    response = client.post(
        path + "/launch", data={"acknowledge": "y", "termination_protection": "y"}
    )
    assert response.status_code == 303
    assert "termination protection on" in page_text(client.get(f"/stacks/{name}"))
    assert "Termination protection is on" in page_text(client.get(f"/stacks/{name}/delete"))
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    assert response.status_code == 422
    text = page_text(response)
    assert "has termination protection on, so it cannot be deleted" in text
    assert "update-termination-protection" in text
    assert "CREATE_COMPLETE" in page_text(client.get(f"/stacks/{name}"))


def test_a_launch_the_sandbox_abandons_half_way_can_be_deleted(client, cloud, monkeypatch):
    """A hosted zone that does not exist: the sandbox makes the stack, then fails and
    leaves it CREATE_IN_PROGRESS for good. The launch page says what is wrong and links
    to the stack; its page offers the delete, which says what it keeps, and deletes."""
    from pushstack.cloud import watching

    network = cloud.sandbox_network()
    name = new_name("zone")
    path = preview(
        client,
        stack_name=name,
        certificate_arn=network.certificate_arn,
        endpoint_hostname=f"updates-{name}.{network.domain}",
        websocket_hostname=f"push-{name}.{network.domain}",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
    )
    response = client.post(path + "/launch", data={"acknowledge": "y"})
    assert response.status_code == 422
    text = page_text(response)
    assert "The Route 53 hosted zone does not exist" in text
    assert "Check the hosted zone id" in text
    assert re.search(
        rf'id="left-behind".*href="/stacks/{name}"', response.get_data(as_text=True), re.S
    )

    monkeypatch.setattr(watching, "SANDBOX_STUCK_SECONDS", 0.0)  # abandoned at once
    with client.application.app_context():
        get_access().changed(name)
    page = client.get(f"/stacks/{name}")
    assert page.status_code == 200
    text = page_text(page)
    assert "The sandbox stopped half-way" in text
    assert "Delete this stack…" in text
    delete = client.get(f"/stacks/{name}/delete")
    assert delete.status_code == 200, page_text(delete)[:800]
    assert "RouterTable" in page_text(delete)  # what a delete keeps, from the template
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    assert response.status_code == 303
    assert "DELETE_COMPLETE" in page_text(client.get(response.headers["Location"]))


def _replace(view, **changes):
    import dataclasses

    return dataclasses.replace(view, **changes)


def test_views_used_by_the_pages_are_the_cloud_modules():
    """The pages read these fields; a renamed field would break them silently."""
    for view, fields in (
        (StackView, {"status", "outputs", "parameters", "missing_outputs", "stack_id"}),
        (ResourceView, {"logical_id", "resource_type", "physical_id", "status", "emulated"}),
    ):
        assert fields <= set(view.__dataclass_fields__)


# The crypto key, from the form to the delete.

NEW_KEY = "yVzv0Tq4hJtDLoQ8V1mqjz2w7xQnkvuVd0fC2oRrKjE="


def test_the_crypto_key_never_shows_anywhere(sandbox_url, caplog):
    """A known key walks the whole flow: no page, header, URL or log line shows it;
    only the parameters file the user downloads holds it."""
    from conftest import KNOWN_KEY

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "secret-test",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_url,
        }
    )
    app.config["WTF_CSRF_ENABLED"] = False
    seen = []  # (url, headers, body) of every answer

    @app.after_request
    def record(response):
        from flask import request

        seen.append((request.url, str(response.headers), response.get_data(as_text=True)))
        return response

    caplog.set_level("DEBUG")  # botocore's request and response logs included
    client = app.test_client()
    name = new_name("secret")

    # The form, with an error first (the key must not come back), then valid.
    form = FormValues(client.get("/").get_data(as_text=True)).values
    form.update(
        stack_name=name, crypto_key=KNOWN_KEY, log_processing="processor", engine="autopush-legacy"
    )
    assert client.post("/", data={**form, "subnet_ids": "subnet-bad"}).status_code == 422
    response = client.post("/", data=form)
    assert response.status_code == 303
    path = urlsplit(response.headers["Location"]).path
    for url in (path, path + "?format=yaml", path + "/template.json", path + "/template.yaml"):
        assert client.get(url).status_code == 200
    parameters = client.get(path + "/parameters.json")
    assert KNOWN_KEY in parameters.get_data(as_text=True)  # the one place it belongs
    seen.pop()

    # Launch, watch, list.
    response = client.post(path + "/launch", data={"acknowledge": "y"})
    assert response.status_code == 303
    for url in (response.headers["Location"], f"/api/stacks/{name}", "/stacks"):
        assert client.get(url).status_code == 200
    assert "****" in page_text(client.get(f"/stacks/{name}"))  # the masked parameter

    # Update with a rotated key list, then delete.
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(crypto_key=f"{NEW_KEY},{KNOWN_KEY}", acknowledge="y")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1000]
    changes = client.get(response.headers["Location"])
    response = client.post(
        f"/stacks/{name}/change-set/execute", data=FormValues(changes.get_data(as_text=True)).values
    )
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get(f"/stacks/{name}/delete").status_code == 200
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    assert client.get(response.headers["Location"]).status_code == 200

    assert len(seen) > 15
    assert any(record.name.startswith("botocore") for record in caplog.records)
    for key in (KNOWN_KEY, NEW_KEY):
        for url, headers, body in seen:
            assert key not in url, url
            assert key not in headers, url
            assert key not in body, url
        for record in caplog.records:
            assert key not in record.getMessage(), record.name


def test_the_sign_in_page_names_no_account(sandbox_url):
    """With an access token, whoever reaches the wizard learns nothing of the account."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "sign-in-test-" + "x" * 40,
            "ACCESS_TOKEN": secrets.token_urlsafe(24),
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_url,
        }
    )
    client = app.test_client()
    response = client.get("/", follow_redirects=True)
    text = page_text(response)
    assert "sign in to see it" in text
    assert not re.search(r"account \d{12}", text)
    assert client.get("/api/stacks/anything").status_code == 401


def test_without_credentials_every_page_says_so(monkeypatch, fake_aws_env):
    """PUSHSTACK_TARGET=aws and no credentials: plain messages, the form still works."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "no-target", "TARGET": "aws"}
    )
    client = app.test_client()
    form = client.get("/")
    assert form.status_code == 200
    assert "Target: No target: No AWS credentials were found." in page_text(form)
    assert "vpc_id-choices" not in form.get_data(as_text=True)  # typing only

    listing = client.get("/stacks")
    assert listing.status_code == 502
    assert "AWS_PROFILE" in page_text(listing)  # what to do about it
    api = client.get("/api/stacks/anything")
    assert api.status_code == 502
    assert api.get_json()["advice"]

    from conftest import VALID_FORM

    response = client.post("/", data=VALID_FORM)
    assert response.status_code == 303
    preview_page = page_text(client.get(urlsplit(response.headers["Location"]).path))
    assert "No target is reachable, so the stack cannot be launched from here" in preview_page
    assert "Launch the stack" not in preview_page


def _raising(exc):
    def call(**kwargs):
        raise exc

    return call


@pytest.mark.parametrize(
    ("error", "says", "advises"),
    [
        ("expired", "AWS did not accept the credentials", "Refresh them"),
        ("unreachable", "Could not reach", "Check the network connection"),
        ("unreadable", "The sandbox failed on DescribeStacks", "run the same stack in a real"),
        ("no_credentials", "No AWS credentials were found.", "PUSHSTACK_TARGET=sandbox"),
        ("read_timeout", "did not answer in time", "Try again in a moment."),
    ],
)
def test_every_aws_failure_is_a_page_in_words_on_every_stack_page(
    client, cloud, monkeypatch, error, says, advises
):
    """Item 1's failures, raised by botocore itself under each page that reads AWS:
    a message and advice, never a 500 or a traceback."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError

    exc = {
        "expired": ClientError(
            {"Error": {"Code": "ExpiredToken", "Message": "The security token expired"}},
            "DescribeStacks",
        ),
        "unreachable": EndpointConnectionError(endpoint_url=cloud.target.endpoint_url),
        "unreadable": ResponseParserError("Unable to parse response"),
        "no_credentials": NoCredentialsError(),
        "read_timeout": ReadTimeoutError(endpoint_url=cloud.target.endpoint_url),
    }[error]
    cfn = cloud._client("cloudformation")
    monkeypatch.setattr(cfn, "describe_stacks", _raising(exc))
    name = new_name("err")  # the API caches a failure for a moment, by stack
    for path in (
        "/stacks",
        f"/stacks/{name}",
        f"/stacks/{name}/update",
        f"/stacks/{name}/delete",
    ):
        response = client.get(path)
        assert response.status_code == 502, path
        text = page_text(response)
        assert says in text, (path, text[:600])
        assert "Traceback" not in text and "Internal Server Error" not in text
        assert advises in text, path
    api = client.get(f"/api/stacks/{name}")
    assert api.status_code == 502
    assert says in api.get_json()["error"] and advises in api.get_json()["advice"]
    for path in (f"/stacks/{name}/delete", f"/stacks/{name}/update"):
        assert client.post(path, data={}).status_code == 502, path


# Review gaps: the update names its capabilities; an abandoned create can be relaunched;
# the form's network follows the region.


def test_update_acknowledgement_names_the_capabilities_it_grants(client):
    name = new_name("caps")
    launch(client, name)
    response = client.get(f"/stacks/{name}/update")
    body = response.get_data(as_text=True)
    label = re.search(r'<label for="acknowledge">(.*?)</label>', body, re.S).group(1)
    assert "CAPABILITY_IAM" in label
    assert "you grant CloudFormation the capabilities CAPABILITY_IAM" in page_text(response)
    # Still named when the form comes back with an error.
    form = FormValues(body).values
    form.update(connection_max_size="many")
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 422
    assert "granting CloudFormation CAPABILITY_IAM" in page_text(response)


def test_a_create_the_sandbox_abandoned_is_deleted_then_launched_again(client, cloud, monkeypatch):
    from pushstack.cloud import watching

    network = cloud.sandbox_network()
    name = new_name("abandon")
    path = preview(
        client,
        stack_name=name,
        certificate_arn=network.certificate_arn,
        endpoint_hostname=f"updates-{name}.{network.domain}",
        websocket_hostname=f"push-{name}.{network.domain}",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        autopush_image="mozilla/autopush:1.56.0",
    )
    assert client.post(path + "/launch", data={"acknowledge": "y"}).status_code == 422
    monkeypatch.setattr(watching, "SANDBOX_STUCK_SECONDS", 0.0)  # abandoned at once
    with client.application.app_context():
        get_access().changed(name)
    page = client.get(f"/stacks/{name}")
    text = page_text(page)
    assert "CREATE_IN_PROGRESS" in text
    assert "it will never finish" in text
    link = re.search(r'id="delete-relaunch" href="([^"]+)"', page.get_data(as_text=True))
    delete = client.get(html.unescape(link.group(1)))
    assert "Delete it, then launch again" in page_text(delete)
    response = client.post(f"/stacks/{name}/delete", data={"relaunch": "1", "confirm_name": name})
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    assert "DELETE_COMPLETE" in page_text(status)
    again = re.search(r'id="relaunch" href="([^"]+)"', status.get_data(as_text=True))
    form = FormValues(client.get(html.unescape(again.group(1))).get_data(as_text=True)).values
    assert form["stack_name"] == name
    assert form["autopush_image"] == "mozilla/autopush:1.56.0"
    assert form["hosted_zone_id"] == "Z0123456789ABCDEFGHIJ"  # the value to fix, as it was


def _offered(page: str, field: str) -> set[str]:
    """The values the account's choices offer for one field (datalist or list of subnets)."""
    block = re.search(rf'id="{field}-choices".*?</(datalist|div)>', page, re.S).group(0)
    return set(re.findall(r'(?:<option value|data-value)="([^"]+)"', block))


def test_the_form_offers_and_prefills_the_network_of_the_region_asked(client, app):
    with app.app_context():
        home = get_access().cloud().sandbox_network()
        away = get_access().cloud("eu-west-1").sandbox_network()
    response = client.get("/?region=eu-west-1")
    page = response.get_data(as_text=True)
    form = FormValues(page).values
    assert form["region"] == "eu-west-1"
    assert form["vpc_id"] == away.vpc_id
    assert form["subnet_ids"].split() == list(away.public_subnet_ids)
    assert form["private_subnet_ids"].split() == list(away.private_subnet_ids)
    assert _offered(page, "vpc_id") >= {away.vpc_id}
    assert home.vpc_id not in _offered(page, "vpc_id")
    assert not set(home.public_subnet_ids) & _offered(page, "subnet_ids")
    assert "The network choices below are from eu-west-1" in page_text(response)


def test_another_regions_network_is_named_next_to_its_field(client, app):
    """The form pre-filled for us-east-1, then the region changed to eu-west-1 with no
    script to reload the network: the submit says so, instead of a launch that fails."""
    with app.app_context():
        away = get_access().cloud("eu-west-1").sandbox_network()
    form = FormValues(client.get("/").get_data(as_text=True)).values
    form.update(stack_name=new_name("region"), region="eu-west-1")
    response = client.post("/", data=form)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    vpc_error = re.search(r'id="vpc_id-error">(.*?)</p>', body, re.S).group(1)
    assert "is a VPC of us-east-1, not of eu-west-1" in html.unescape(vpc_error)
    subnet_error = re.search(r'id="subnet_ids-error">(.*?)</p>', body, re.S).group(1)
    assert "are subnets of us-east-1, not of eu-west-1" in html.unescape(subnet_error)
    # The page now offers eu-west-1's network to pick from.
    assert away.vpc_id in _offered(body, "vpc_id")
    assert set(away.public_subnet_ids) <= _offered(body, "subnet_ids")

    # Resubmitted unchanged (the page now offers eu-west-1): still named.
    again = FormValues(body).values
    again.update(stack_name=form["stack_name"])
    assert client.post("/", data=again).status_code == 422

    form.update(vpc_id=away.vpc_id, subnet_ids="\n".join(away.public_subnet_ids))
    response = client.post("/", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    assert "Not found in the account" not in page_text(client.get(response.headers["Location"]))
    launched = client.post(
        urlsplit(response.headers["Location"]).path + "/launch", data={"acknowledge": "y"}
    )
    assert launched.status_code == 303, page_text(launched)[:1500]
    assert "CREATE_COMPLETE" in page_text(client.get(launched.headers["Location"]))


def test_ids_the_account_does_not_know_can_still_be_typed(client):
    """A template for another account: ids the target does not know are not refused."""
    form = FormValues(client.get("/").get_data(as_text=True)).values
    form.update(
        stack_name=new_name("typed"),
        region="eu-west-1",
        vpc_id="vpc-0123456789abcdef0",
        subnet_ids="subnet-0123456789abcdef0\nsubnet-0123456789abcdef1",
    )
    response = client.post("/", data=form)
    assert response.status_code == 303
    # The preview says a launch into this target would fail on them, and where to go.
    preview_page = client.get(response.headers["Location"])
    text = page_text(preview_page)
    assert "Not found in the account in eu-west-1: VPC" in text
    assert "subnet-0123456789abcdef0, subnet-0123456789abcdef1" in text
    link = re.search(
        r'id="unknown-network".*?<a href="([^"]+)"', preview_page.get_data(as_text=True), re.S
    )
    back = client.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert FormValues(back).values["vpc_id"] == "vpc-0123456789abcdef0"  # as typed
    assert "The network choices below are from eu-west-1" in page_text_of(back)


def page_text_of(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_outputs_show_only_once_the_operation_completed(client, cloud, monkeypatch):
    """The sandbox returns every output at once, during the create and the delete too;
    AWS gives them only once the stack completes: page and API wait for a success."""
    name = new_name("outs")
    launch(client, name, log_processing="processor")
    real, finished = cloud.stack(name), cloud.progress(name)
    websocket = real.output_values["WebSocketURL"]
    for status in ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "ROLLBACK_COMPLETE"):
        ended = not status.endswith("_IN_PROGRESS")
        now = _replace(finished, status=status, done=0, finished=ended)
        monkeypatch.setattr(cloud, "progress", lambda ref, now=now, **given: now)
        monkeypatch.setattr(
            cloud, "stack", lambda ref, status=status: _replace(real, status=status)
        )
        with client.application.app_context():
            get_access().changed(name)
        page = client.get(f"/stacks/{name}")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert websocket not in body, status
        assert 'id="output-' not in body and 'id="failure-queue"' not in body, status
        assert 'id="outputs-pending"' in body, status
        data = client.get(f"/api/stacks/{name}").get_json()
        assert data["status"] == status
        assert data["outputs"] == {} and data["failure_queue"] is None, status
    for status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        now = _replace(finished, status=status)
        monkeypatch.setattr(cloud, "progress", lambda ref, now=now, **given: now)
        monkeypatch.setattr(
            cloud, "stack", lambda ref, status=status: _replace(real, status=status)
        )
        with client.application.app_context():
            get_access().changed(name)
        assert websocket in client.get(f"/stacks/{name}").get_data(as_text=True), status
        assert client.get(f"/api/stacks/{name}").get_json()["outputs"]["WebSocketURL"] == websocket


def test_the_kept_failure_queue_has_its_removal_command(client, cloud):
    """A processor stack keeps its failure queue on delete: the stack page, the delete
    page and the deleted stack's page name it with the command that removes it."""
    name = new_name("keptq")
    location = launch(client, name, log_processing="processor")
    url = cloud.stack_outputs(name)["ProcessorFailureQueueURL"]
    command = f"aws sqs delete-queue --queue-url {url} --region us-east-1 --endpoint-url"
    page = client.get(location).get_data(as_text=True)
    assert re.search(
        r'<pre id="remove-ProcessorFailureQueue"><code>[^<]*' + re.escape(command), page
    )
    assert 'data-copy="remove-ProcessorFailureQueue"' in page
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    assert response.status_code == 303
    deleted = client.get(response.headers["Location"])
    text = page_text(deleted)
    assert "This stack is deleted" in text
    assert "failure queue ProcessorFailureQueue" in text
    assert command in text
    sqs = cloud.target.client("sqs")
    queue_name = url.rsplit("/", 1)[1]
    assert [queue_name] == [  # kept, as the page says; and the command removes it
        found.rsplit("/", 1)[1]
        for found in sqs.list_queues(QueueNamePrefix=queue_name)["QueueUrls"]
    ]
    sqs.delete_queue(QueueUrl=url)
    assert not sqs.list_queues(QueueNamePrefix=queue_name).get("QueueUrls")


def test_the_stacks_list_says_when_each_stack_last_changed(client, cloud, monkeypatch):
    """Last change: the last update's time, else the creation's (never an empty cell)."""
    from datetime import UTC, datetime, timedelta

    from pushstack.cloud import StackSummary

    now = datetime.now(UTC)
    listed = [
        StackSummary(
            "updated",
            "id-1",
            "UPDATE_COMPLETE",
            now - timedelta(days=2),
            now - timedelta(minutes=5),
        ),
        StackSummary("created", "id-2", "CREATE_COMPLETE", now - timedelta(hours=3)),
    ]
    monkeypatch.setattr(cloud, "list_stacks", lambda: listed)
    page = client.get("/stacks").get_data(as_text=True)
    cells = [
        re.sub(r"<[^>]+>|\s+", " ", row).split()
        for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    ]
    rows = {" ".join(cell) for cell in cells}
    assert "updated UPDATE_COMPLETE 2 days ago 5 minutes ago" in rows, rows
    assert "created CREATE_COMPLETE 3 hours ago 3 hours ago" in rows, rows
