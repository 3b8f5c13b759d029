"""Issue 16 item 3: signing out ends the session for every copy of its cookie, sessions
have idle and absolute lifetimes, and sign-in attempts are bounded."""

import re

import pytest

from webapp import create_app, shared

SECRET = "s7Hq2Lw9Xc4Vb1Nm8Zk3Jd6Fg0Ty5Ur2Ei7Oa4Pq9Ws"
TOKEN = "Zq8vN2kP4rT6wY1xB3mC5dF7"
PAGE = "/preview/none"  # a page behind the sign-in: 404 signed in, 303 to sign in otherwise


@pytest.fixture
def app(tmp_path, sandbox_server):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "ACCESS_TOKEN": TOKEN,
            "STATE_DIR": str(tmp_path),
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
        }
    )


def csrf(response) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text).group(1)


def sign_in(client, token=TOKEN, **kwargs):
    page = client.get("/signin", **kwargs)
    return client.post("/signin", data={"csrf_token": csrf(page), "token": token}, **kwargs)


def copy_of(app, client):
    name = app.config["SESSION_COOKIE_NAME"]
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def test_a_copied_cookie_opens_nothing_once_signed_out(app):
    """Flask's cookie stayed valid 31 days after sign-out: a copy deleted a stack."""
    client = app.test_client()
    assert sign_in(client).status_code == 303
    copy = copy_of(app, client)
    assert copy.get(PAGE).status_code == 404  # the copy works while the session lives
    page = client.get("/")
    assert client.post("/signout", data={"csrf_token": csrf(page)}).status_code == 303
    refused = copy.get(PAGE)
    assert refused.status_code == 303
    assert refused.headers["Location"].startswith("/signin")
    assert copy.post("/stacks/any/delete", data={}).status_code in (303, 400)


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(shared, "_now", lambda: now[0])
    return now


def test_a_session_unused_for_12_hours_ends(app, clock):
    client = app.test_client()
    sign_in(client)
    clock[0] += 11 * 3600
    assert client.get(PAGE).status_code == 404
    clock[0] += 11 * 3600  # 11 hours since it was last used: still alive
    assert client.get(PAGE).status_code == 404
    clock[0] += 12 * 3600 + 1
    assert client.get(PAGE).status_code == 303


def test_a_session_ends_7_days_after_sign_in_however_used(app, clock):
    client = app.test_client()
    sign_in(client)
    for _ in range(7 * 24 - 1):
        clock[0] += 3600
        assert client.get(PAGE).status_code == 404
    clock[0] += 3601
    assert client.get(PAGE).status_code == 303
    assert sign_in(client).status_code == 303  # signing in again starts a new one
    assert client.get(PAGE).status_code == 404


def test_the_lifetimes_are_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PUSHSTACK_SESSION_IDLE_SECONDS", "600")
    monkeypatch.setenv("PUSHSTACK_SESSION_LIFETIME_SECONDS", "3600")
    app = create_app({"SECRET_KEY": SECRET, "STATE_DIR": str(tmp_path)})
    assert app.config["SESSION_IDLE_SECONDS"] == 600
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 3600


def test_wrong_tokens_are_bounded_per_address_then_even_the_right_one_waits(app):
    client = app.test_client()
    for _ in range(10):
        assert sign_in(client, token="Zq8vN2kP4rT6wY1xB3mC5dF8").status_code == 401
    refused = sign_in(client)  # the right token, now
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "Too many wrong access tokens from this address (10 in a minute)" in refused.text
    assert TOKEN not in refused.text
    # Another address of this machine is not held up by this one.
    assert sign_in(app.test_client(), environ_base={"REMOTE_ADDR": "127.0.0.2"}).status_code == 303


def test_wrong_tokens_are_bounded_overall(app):
    app.config["SIGNIN_ATTEMPTS_PER_MINUTE_OVERALL"] = 6
    for number in range(6):
        client = app.test_client()
        address = {"REMOTE_ADDR": f"127.0.0.{number + 2}"}
        assert sign_in(client, token="nope", environ_base=address).status_code == 401
    refused = sign_in(app.test_client(), environ_base={"REMOTE_ADDR": "127.0.1.1"})
    assert refused.status_code == 429
    assert "from all addresses together" in refused.text


def test_a_state_folder_others_can_write_to_is_refused_at_start(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(RuntimeError, match="PUSHSTACK_STATE_DIR"):
        create_app({"SECRET_KEY": SECRET, "STATE_DIR": str(folder)})


# Wrong bearer tokens on /api/ count like wrong sign-in tokens (same counters).

API = "/api/stacks/never-made"


def bearer(token: str, address: str = "127.0.0.1") -> dict:
    return {
        "headers": {"Authorization": f"Bearer {token}"},
        "environ_base": {"REMOTE_ADDR": address},
    }


def test_wrong_bearer_tokens_are_bounded_per_address_then_even_the_right_one_waits(app, caplog):
    """Bearer guesses were never counted: a script could try tokens without end."""
    caplog.set_level("WARNING")
    client = app.test_client()
    assert client.get(API, **bearer(TOKEN)).status_code == 404  # the right one opens
    for number in range(10):
        wrong = client.get(API, **bearer(f"guess-{number}-Zq8vN2kP4rT6wY1x"))
        assert wrong.status_code == 401
    refused = client.get(API, **bearer(TOKEN))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert (
        "Too many wrong access tokens from this address (10 in a minute)"
        in (refused.get_json()["error"])
    )
    assert "Wrong access token" in caplog.text and "Bearer" in caplog.text
    assert "guess-" not in caplog.text and TOKEN not in caplog.text
    # The same counters as the sign-in form: a guesser gains nothing by switching.
    assert sign_in(app.test_client()).status_code == 429
    # No token at all is no guess; another address is not held up by this one.
    assert app.test_client().get(API, environ_base={"REMOTE_ADDR": "127.0.0.3"}).status_code == 401
    assert app.test_client().get(API, **bearer(TOKEN, "127.0.0.2")).status_code == 404


def test_wrong_bearer_tokens_are_bounded_overall(app):
    app.config["SIGNIN_ATTEMPTS_PER_MINUTE_OVERALL"] = 6
    for number in range(6):
        wrong = app.test_client().get(API, **bearer("nope", f"127.0.0.{number + 2}"))
        assert wrong.status_code == 401
    refused = app.test_client().get(API, **bearer(TOKEN, "127.0.1.1"))
    assert refused.status_code == 429
    assert "from all addresses together" in refused.get_json()["error"]
