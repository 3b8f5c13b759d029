""" "Send a test push" on the stack's page and POST /api/stacks/<name>/verify, through
Flask's test client, with stacks launched into the session's sandbox. The round trips
go to tests/pushserver.py (the tests' stand-in for a stack's nodes): its outputs are
handed to webapp.verify at the function level, as no push server runs in the sandbox."""

import re
import threading

import flask
import pytest
from pushserver import Behaviour, PushServer
from test_security import csrf_token_of
from test_stacks_web import launch, new_name, page_text

from pushstack.options import LEGACY
from pushstack.verify import roundtrip
from pushstack.verify import targets as urls
from webapp import create_app, store
from webapp import verify as web_verify
from webapp.cloud import get_access

QUICK = roundtrip.Timeouts(connect=2, reply=2, send=2, delivery=0.5)


def make_app(sandbox_url, **config):
    return create_app({
        "TESTING": True, "SECRET_KEY": "verify-tests", "TARGET": "sandbox",
        "SANDBOX_URL": sandbox_url, **config,
    })  # fmt: skip


@pytest.fixture(scope="module")
def app(sandbox_server):
    return make_app(sandbox_server.url, WTF_CSRF_ENABLED=False)


@pytest.fixture(scope="module")
def stack_name(app):
    """One stack launched into the sandbox for the module (CREATE_COMPLETE at once)."""
    name = new_name("verify")
    launch(app.test_client(), name)
    return name


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def stand_in(monkeypatch):
    """A push server on 127.0.0.1 taken for the stack's outputs, as if it ran in AWS."""

    def serve(behaviour=None, **other_outputs):
        server = PushServer(behaviour=behaviour).__enter__()
        servers.append(server)
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        # Like the launched stack's (autopush 1.57.0's) unless told: its router table.
        outputs |= other_outputs or {"RouterTableName": "autopush_router"}
        monkeypatch.setattr(web_verify, "is_sandbox", lambda: False)
        monkeypatch.setattr(web_verify, "stack_outputs", lambda name, region: outputs)
        monkeypatch.setattr(web_verify, "WEB_TIMEOUTS", QUICK)
        return server

    servers = []
    yield serve
    for server in servers:
        server.__exit__(None, None, None)


# The sandbox: said plainly, nothing that pretends.


def test_in_the_sandbox_the_page_says_so_and_offers_no_button(client, stack_name):
    response = client.get(f"/stacks/{stack_name}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = page_text(response)
    assert "Send a test push" in text  # the section's title
    assert "The sandbox runs no push servers" in text
    assert 'id="verify-form"' not in page and "verify.js" not in page
    assert 'id="verify-steps"' not in page


@pytest.mark.parametrize("path", ["/api/stacks/{}/verify", "/stacks/{}/verify"])
def test_in_the_sandbox_the_routes_refuse(client, stack_name, path):
    response = client.post(path.format(stack_name))
    assert response.status_code == 409
    if path.startswith("/api/"):
        assert response.get_json()["error"].startswith("The sandbox runs no push servers")
        assert "PUSHSTACK_TARGET=aws" in response.get_json()["advice"]
    else:
        assert "The sandbox runs no push servers" in page_text(response)


def test_the_outputs_it_reads_are_the_stacks_push_urls(app, stack_name):
    with app.app_context():
        outputs = get_access().cloud().stack_outputs(stack_name)
    targets = urls.from_outputs(outputs)
    assert targets.websocket_url.startswith("ws://")
    assert targets.endpoint_url.startswith("http://")
    # The stack's own outputs tell its engine (this one autopush 1.57.0's: its tables), so
    # a failure's advice names its store.
    assert outputs.get("RouterTableName") and targets.engine == LEGACY


# Against the stand-in: the steps, and the last result kept for the page.


def test_the_button_runs_the_round_trip_and_the_page_shows_each_step(client, stack_name, stand_in):
    server = stand_in()
    page = client.get(f"/stacks/{stack_name}").get_data(as_text=True)
    assert 'id="verify-form"' in page and "verify.js" in page
    assert "Last test push" not in page  # nothing run yet: no result shown
    response = client.post(f"/stacks/{stack_name}/verify")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/stacks/{stack_name}#verify")
    assert server.pushes == [201, 201]
    page = client.get(f"/stacks/{stack_name}")
    text = page_text(page)
    assert "Delivered: every step passed." in text
    rows = re.findall(r"<tr class=\"\"><td>", page.get_data(as_text=True))
    assert len(rows) == 13
    assert "Receive the stored notification ok" in text


def test_a_failure_shows_the_step_what_was_expected_what_came_and_what_to_check(
    client, stack_name, stand_in
):
    stand_in(Behaviour(endpoint_status=410))
    response = client.post(f"/api/stacks/{stack_name}/verify")
    assert response.status_code == 200
    report = response.get_json()["report"]
    assert report["ok"] is False
    assert report["steps"][-1]["name"] == "send" and "HTTP 410" in report["steps"][-1]["got"]
    text = page_text(client.get(f"/stacks/{stack_name}"))
    assert "Failed at: Send an encrypted push" in text
    assert "Expected: HTTP 201 Created" in text
    assert "Got: HTTP 410" in text
    assert "Check: the endpoint nodes" in text


@pytest.mark.parametrize(
    ("outputs", "store"),
    [
        ({"StoreId": "push-store-1a2b3c4d"}, "the Valkey store"),
        ({"RouterTableName": "autopush_router", "MessageTableName": "m"}, "the router table"),
    ],
    ids=["rs", "legacy"],
)
def test_the_advice_names_the_store_of_the_stacks_engine(
    client, stack_name, stand_in, outputs, store
):
    stand_in(Behaviour(hello_status=503), **outputs)
    report = client.post(f"/api/stacks/{stack_name}/verify").get_json()["report"]
    assert report["steps"][-1]["name"] == "hello"
    assert store in report["steps"][-1]["advice"]
    text = page_text(client.get(f"/stacks/{stack_name}"))
    assert "Check: the store: " in text and store in text


def test_the_last_result_is_kept_sealed_per_stack_in_the_session(app, client, stand_in):
    stand_in()
    names = [new_name("kept") for _ in range(store.MAX_KEPT_RESULTS + 1)]
    for name in names:  # pushstack's stacks (no other is verified); the outputs are the stand-in's
        launch(client, name)
        assert client.post(f"/api/stacks/{name}/verify").get_json()["report"]["ok"]
    with client.session_transaction() as saved:
        kept = dict(saved)
    with app.test_request_context():
        flask.session.update(kept)
        region = get_access().target().region
        assert store.last_result(f"{region}/{names[0]}") is None  # the oldest made room
        last = store.last_result(f"{region}/{names[-1]}")
        assert last["ok"] is True and len(last["steps"]) == 13
    assert "127.0.0.1" not in str(kept) and "Receive" not in str(kept)  # sealed, not readable
    cookie = client.get_cookie("pushstack_session")
    assert len(cookie.value) < 4000  # browsers keep cookies of at most 4 KB


# The checks of every change.


def test_the_api_needs_the_csrf_token(sandbox_server, stack_name):
    client = make_app(sandbox_server.url).test_client()
    page = client.get("/")  # the form: the session's CSRF token
    assert client.post(f"/api/stacks/{stack_name}/verify").status_code == 400
    response = client.post(
        f"/api/stacks/{stack_name}/verify", headers={"X-CSRFToken": csrf_token_of(page)}
    )
    assert response.status_code == 409  # through every check; then the sandbox refuses


def test_the_api_refuses_another_origin(sandbox_server, stack_name):
    client = make_app(sandbox_server.url).test_client()
    token = csrf_token_of(client.get("/"))
    response = client.post(
        f"/api/stacks/{stack_name}/verify",
        headers={"X-CSRFToken": token, "Origin": "http://evil.example"},
    )
    assert response.status_code == 403


def test_with_an_access_token_the_routes_need_sign_in(sandbox_server, stack_name):
    client = make_app(sandbox_server.url, ACCESS_TOKEN="Zq8vN2kP4rT6wY1xB3mC5dF7").test_client()
    response = client.post(f"/api/stacks/{stack_name}/verify")
    assert response.status_code == 401 and "Bearer" in response.get_json()["error"]
    response = client.post(f"/stacks/{stack_name}/verify")
    assert response.status_code == 303 and "/signin" in response.headers["Location"]


# The load probe from the page.


def test_the_probe_runs_from_the_page_and_its_figures_are_shown(client, stack_name, stand_in):
    server = stand_in()
    response = client.post(f"/stacks/{stack_name}/probe", data={"clients": "3", "seconds": "1"})
    assert response.status_code == 303
    assert server.pushes == [201, 201, 201]  # 1 s at min(10, 3) pushes/s
    text = page_text(client.get(f"/stacks/{stack_name}"))
    assert "Every push was delivered." in text
    assert "3 connections for 1 s at 3.0 pushes/s" in text
    assert "Connections held 3 of 3 (0 failed to connect)" in text
    assert "3 sent, 3 accepted, 3 delivered, 0 lost" in text
    assert re.search(r"p50 \d+\.\d ms, p95 \d+\.\d ms, p99 \d+\.\d ms", text)


def test_the_probe_api_gives_the_figures(client, stack_name, stand_in):
    stand_in(Behaviour(deliver=False))
    response = client.post(f"/api/stacks/{stack_name}/probe", data={"clients": "2", "seconds": "1"})
    probe = response.get_json()["probe"]
    assert (probe["held"], probe["accepted"], probe["delivered"], probe["lost"]) == (2, 2, 0, 2)
    assert probe["ok"] is False and probe["p50_ms"] is None
    text = page_text(client.get(f"/stacks/{stack_name}"))
    assert "Not every push went through." in text and "nothing was delivered" in text


def test_bad_probe_values_come_back_next_to_their_field(client, stack_name, stand_in):
    server = stand_in()
    response = client.post(
        f"/api/stacks/{stack_name}/probe", data={"clients": "51", "seconds": "10"}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"clients": "From 1 to 50 here."}
    response = client.post(f"/stacks/{stack_name}/probe", data={"clients": "0", "seconds": "99"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(
        r'id="probe-clients-error">From 1 to 50 here\.</p>\s*<input[^>]*value="0"', page
    )
    assert re.search(
        r'id="probe-seconds-error">From 1 to 30 here\.</p>\s*<input[^>]*value="99"', page
    )
    assert server.pushes == []


def test_in_the_sandbox_the_probe_refuses(client, stack_name):
    response = client.post(f"/api/stacks/{stack_name}/probe", data={"clients": "2", "seconds": "1"})
    assert response.status_code == 409
    assert "no push servers" in response.get_json()["error"]


def test_a_few_at_once_per_process_then_429(client, stack_name, stand_in, monkeypatch):
    server = stand_in()
    monkeypatch.setattr(web_verify, "_RUNNING", threading.BoundedSemaphore(1))
    assert web_verify._RUNNING.acquire(blocking=False)  # one already running
    response = client.post(f"/api/stacks/{stack_name}/verify")
    assert response.status_code == 429
    assert "Other test pushes are running" in response.get_json()["error"]
    assert server.pushes == []
    web_verify._RUNNING.release()
    assert client.post(f"/api/stacks/{stack_name}/verify").get_json()["report"]["ok"]
