"""Issue 16 item 2: the wizard reads and changes only pushstack's stacks and change sets,
and says "retained" only where the deployed template retains. Against the sandbox: the
foreign stacks below are made in moto directly, as another tool of the account would."""

import json
import re
import secrets

import pytest
from test_stacks_web import launch, new_name, page_text

from pushstack.cloud import CloudError
from pushstack.cloud.ownership import NOT_PUSHSTACKS
from webapp import create_app
from webapp.cloud import get_access

# A stack another tool made: a bucket CloudFormation deletes with the stack.
FOREIGN_TEMPLATE = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket"},
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        },
    }
}
REFUSED = "was not made by pushstack"


@pytest.fixture(scope="module")
def app(sandbox_server):
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "ownership-tests",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
            "OWNERSHIP_SECONDS": 0.0,  # each request asks again: the tests change tags
            "OWNERSHIP_KNOWN_SECONDS": 0.0,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cloud(app):
    with app.app_context():
        return get_access().cloud()


@pytest.fixture
def cfn(cloud):
    return cloud.target.client("cloudformation", cloud.region)


def foreign_stack(cfn, tags=()) -> str:
    name = f"foreign-{secrets.token_hex(3)}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(FOREIGN_TEMPLATE), Tags=list(tags))
    return name


def still_there(cfn, name) -> dict:
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return stack


def test_every_route_refuses_a_foreign_stack_in_words(client, cfn):
    name = foreign_stack(cfn)
    for method, path in [
        ("GET", f"/stacks/{name}"),
        ("GET", f"/stacks/{name}/update"),
        ("POST", f"/stacks/{name}/update"),
        ("GET", f"/stacks/{name}/delete"),
        ("POST", f"/stacks/{name}/delete"),
        ("POST", f"/stacks/{name}/continue-rollback"),
        ("GET", f"/stacks/{name}/change-set?id=x"),
        ("POST", f"/stacks/{name}/change-set/execute"),
    ]:
        response = client.open(path, method=method, data={})
        assert response.status_code == 403, (method, path)
        text = page_text(response)
        assert f"The stack {name} in us-east-1 {REFUSED}" in text, (method, path)
        assert "pushstack:launched-by=pushstack" in text
    api = client.get(f"/api/stacks/{name}")
    assert api.status_code == 403
    assert REFUSED in api.get_json()["error"] and api.get_json()["code"] == NOT_PUSHSTACKS
    assert name not in page_text(client.get("/stacks"))
    stack = still_there(cfn, name)  # neither deleted nor updated
    body = cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
    assert json.loads(body) if isinstance(body, str) else body == FOREIGN_TEMPLATE


def test_the_cloud_layer_refuses_a_foreign_stack_for_every_call(cloud, cfn):
    """Whatever page or script calls it: the check is in ``Cloud``, uncached."""
    from pushstack.options import Options

    name = foreign_stack(cfn)
    calls = {
        "stack": lambda: cloud.stack(name),
        "resources": lambda: cloud.resources(name),
        "progress": lambda: cloud.progress(name),
        "stack_options": lambda: cloud.stack_options(name),
        "delete": lambda: cloud.delete(name),
        "continue_update_rollback": lambda: cloud.continue_update_rollback(name),
        "create_change_set": lambda: cloud.create_change_set(
            name, Options(stack_name=name), keep_crypto_key=True, acknowledged=()
        ),
    }
    for what, call in calls.items():
        with pytest.raises(CloudError) as refused:
            call()
        assert refused.value.code == NOT_PUSHSTACKS, what
        assert REFUSED in refused.value.message, what
    still_there(cfn, name)


def test_a_change_set_runs_only_on_its_own_pushstack_stack(client, cloud, cfn, monkeypatch):
    """A change set of another stack, given in the address of a pushstack stack, and one
    pushstack did not make, are refused; neither is executed."""
    from pushstack.options import Options

    mine, other = new_name("mine"), new_name("other")
    launch(client, mine)
    launch(client, other)
    wanted = Options(**{**cloud.stack_options(other), "connection_max_size": 7})
    wanted_mine = Options(**{**cloud.stack_options(mine), "connection_max_size": 7})
    others = cloud.create_change_set(
        other, wanted, keep_crypto_key=True, acknowledged=("CAPABILITY_IAM",)
    )
    # The change set of `other`, through `mine`'s address.
    page = client.get(f"/stacks/{mine}/change-set?id={others}")
    assert page.status_code == 403
    assert f"This change set belongs to another stack than {mine}" in page_text(page)
    response = client.post(f"/stacks/{mine}/change-set/execute", data={"change_set_id": others})
    assert response.status_code == 403
    assert f"belongs to another stack than {mine}" in page_text(response)
    # One made on a pushstack stack by something else (another name and description).
    from pushstack.cloud import changesets

    monkeypatch.setattr(changesets, "CHANGE_SET_PREFIX", "someone-else-")
    monkeypatch.setattr(changesets, "CHANGE_SET_DESCRIPTION", "Made by hand")
    made_elsewhere = cloud.create_change_set(
        mine, wanted_mine, keep_crypto_key=True, acknowledged=("CAPABILITY_IAM",)
    )
    assert ":changeSet/someone-else-" in made_elsewhere
    response = client.post(
        f"/stacks/{mine}/change-set/execute", data={"change_set_id": made_elsewhere}
    )
    assert response.status_code == 403
    assert "was not made by pushstack, so the wizard does not apply it" in page_text(response)
    for name in (mine, other):
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == (
            "CREATE_COMPLETE"
        )
    # Its own change set, through its own address, still runs.
    response = client.post(f"/stacks/{other}/change-set/execute", data={"change_set_id": others})
    assert response.status_code == 303
    assert cloud.stack(other).status == "UPDATE_COMPLETE"


def test_retained_is_read_from_the_deployed_template_not_the_type(client, cloud, cfn):
    """A stack made with pushstack's tag whose bucket has no DeletionPolicy: the delete
    page lists the bucket as deleted, the table (Retain) as kept; a change set removing
    the bucket says it is deleted, not retained."""
    name = foreign_stack(cfn, tags=[{"Key": "pushstack:managed", "Value": "true"}])
    body = client.get(f"/stacks/{name}/delete").get_data(as_text=True)
    kept = body[body.index('id="kept"') : body.index("</ul>", body.index('id="kept"'))]
    deleted = body[body.index('id="deleted"') : body.index("</ul>", body.index('id="deleted"'))]
    assert "<code>Table</code>" in kept and "<code>Table</code>" not in deleted
    assert "<code>Data</code>" in deleted and "<code>Data</code>" not in kept
    rows = {resource.logical_id: resource.retained for resource in cloud.resources(name)}
    assert rows == {"Data": False, "Table": True}

    without_bucket = {"Resources": {"Table": FOREIGN_TEMPLATE["Resources"]["Table"]}}
    change_set_id = cfn.create_change_set(
        StackName=name,
        ChangeSetName="pushstack-1",
        ChangeSetType="UPDATE",
        Description="Update from pushstack",
        TemplateBody=json.dumps(without_bucket),
    )["Id"]
    view = cloud.change_set(change_set_id, name)
    (removed,) = [change for change in view.changes if change.logical_id == "Data"]
    assert removed.action == "Remove"
    assert removed.danger.startswith("Deletes the log bucket Data, with its data")
    assert "retained" not in removed.danger
    page = page_text(client.get(f"/stacks/{name}/change-set?id={change_set_id}"))
    assert re.search(r"Data \(AWS::S3::Bucket\): Deletes the log bucket Data", page)


def test_a_stack_route_added_later_is_guarded_too(sandbox_server, cfn):
    """Any route under /stacks/<...> or /api/stacks/<...>, of any blueprint, gets the
    check before its view runs (e.g. a "Send a test push" added by another change)."""
    from flask import Blueprint

    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "ownership-later",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
        }
    )
    later = Blueprint("later", __name__)
    ran = []

    @later.route("/stacks/<stack>/test-push", methods=["GET", "POST"])
    def test_push(stack):
        ran.append(stack)
        return "pushed"

    @later.get("/api/stacks/<path:stack>/drift")
    def drift(stack):
        ran.append(stack)
        return {"drift": "none"}

    app.register_blueprint(later)
    client = app.test_client()
    name = foreign_stack(cfn)
    for method, path in [
        ("GET", f"/stacks/{name}/test-push"),
        ("POST", f"/stacks/{name}/test-push"),
        ("GET", f"/api/stacks/{name}/drift"),
    ]:
        response = client.open(path, method=method)
        assert response.status_code == 403, path
        assert REFUSED in response.get_data(as_text=True)
    assert ran == []
    mine = new_name("later")
    launch(client, mine)
    assert client.post(f"/stacks/{mine}/test-push").get_data(as_text=True) == "pushed"
    assert ran == [mine]


def test_a_pushstack_stack_is_known_a_minute_a_foreign_one_seconds(sandbox_server, cfn):
    """Watching costs a worker one ownership read a minute for pushstack's stack, while a
    foreign (or unknown) name is asked again after OWNERSHIP_SECONDS."""
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "ownership-known",
        "TARGET": "sandbox",
        "SANDBOX_URL": sandbox_server.url,
        "OWNERSHIP_SECONDS": 0.0,
    }
    watcher = create_app(config).test_client()
    name = new_name("known")
    launch(watcher, name)
    foreign = foreign_stack(cfn)
    with watcher.application.app_context():
        cloud = get_access().cloud()
    asked = []
    owned = cloud.owned
    cloud.owned = lambda stack: asked.append(stack) or owned(stack)
    try:
        for _ in range(3):
            assert watcher.get(f"/api/stacks/{name}").status_code == 200
            assert watcher.get(f"/api/stacks/{foreign}").status_code == 403
    finally:
        del cloud.owned
    assert asked.count(name) <= 1 and asked.count(foreign) == 3


def test_worker_processes_share_whether_a_stack_is_pushstacks(sandbox_server, cfn, tmp_path):
    """Two wizards sharing the progress folder (as gunicorn's workers do) ask AWS once
    between them whether a stack is pushstack's; an unknown name is shared too."""
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "ownership-shared",
        "TARGET": "sandbox",
        "SANDBOX_URL": sandbox_server.url,
        "PROGRESS_SHARED_DIR": str(tmp_path / "shared"),
    }
    first, second = create_app(config), create_app(config)
    name = new_name("shared")
    launch(first.test_client(), name)
    foreign = foreign_stack(cfn)
    asked = []
    for app in (first, second):
        with app.app_context():
            cloud = get_access().cloud()
        owned = cloud.owned
        cloud.owned = lambda stack, owned=owned: asked.append(stack) or owned(stack)
    for app in (first, second, first, second):
        client = app.test_client()
        assert client.get(f"/api/stacks/{name}").status_code == 200
        assert client.get(f"/api/stacks/{foreign}").status_code == 403
    assert asked.count(name) <= 1 and asked.count(foreign) == 1
