"""The wizard as an attacker sees it (issue 8): sealed state, hosts, origins, access, serving."""

import base64
import dataclasses
import json
from urllib.parse import urlsplit

import pytest
from conftest import KNOWN_KEY, VALID_FORM
from variants import VARIANTS

from pushstack.options import Options
from webapp import create_app, store

SECRET = "k3W9dXv2pQ7rT1yU8iO0aS5dF6gH4jK2lZ9xC3vB7nM"  # 43 characters of base64: 258 bits


def make_app(**config):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": SECRET, **config})


def preview_path(client, form=VALID_FORM) -> str:
    response = client.post("/", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return urlsplit(response.headers["Location"]).path


def parameters(client, path) -> dict:
    response = client.get(path + "/parameters.json")
    assert response.status_code == 200
    return {e["ParameterKey"]: e["ParameterValue"] for e in json.loads(response.data)}


# The sealed store: no state in any process (issue 6 item 4, issue 8 items 2 and 5).


@pytest.mark.parametrize("name", list(VARIANTS))
def test_sealed_options_round_trip_exactly(name):
    app = make_app()
    options = VARIANTS[name]
    with app.test_request_context():
        token = store.remember(options)
        assert store.recall(token) == options
    # Every field, crypto key included, comes back with its type (tuples stay tuples).
    with app.test_request_context():
        store.session_id()
        changed = dataclasses.replace(options, connection_max_size=9, reuse_tables=True)
        assert store.recall(store.remember(changed)) == changed


def test_the_token_reveals_nothing_of_the_options():
    app = make_app()
    with app.test_request_context():
        token = store.remember(VARIANTS["processor"])
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (VARIANTS["processor"].crypto_key, "my-processor-code", "push-test"):
        assert secret.encode() not in raw
        assert secret not in token


def test_a_tampered_or_foreign_token_opens_nothing():
    app = make_app()
    with app.test_request_context():
        token = store.remember(VARIANTS["none"])
        flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        assert store.recall(flipped) is None
        assert store.recall("nope") is None
        assert store.recall("") is None
        assert store.unseal_key(token) is None  # a preview token is not a form-key token
    with app.test_request_context():  # another browser session
        assert store.recall(token) is None


def test_a_preview_opens_in_every_process_sharing_the_secret_key():
    first, second = make_app(), make_app()
    client = first.test_client()
    path = preview_path(client)
    cookie = client.get_cookie(first.config["SESSION_COOKIE_NAME"]).value
    other_process = second.test_client()
    other_process.set_cookie(second.config["SESSION_COOKIE_NAME"], cookie)
    assert parameters(other_process, path)["CryptoKey"] == KNOWN_KEY
    # With another secret key, neither the cookie nor the token is accepted.
    stranger = make_app(SECRET_KEY=SECRET[::-1]).test_client()
    stranger.set_cookie(first.config["SESSION_COOKIE_NAME"], cookie)
    assert stranger.get(path + "/parameters.json").status_code == 404


def test_the_url_alone_opens_nothing():
    app = make_app()
    path = preview_path(app.test_client())
    response = app.test_client().get(path + "/parameters.json")
    assert response.status_code == 404
    assert KNOWN_KEY not in response.get_data(as_text=True)


def test_the_cookie_alone_opens_nothing():
    """Issue 8 item 2: the old cookie listed the preview ids; now it holds only a random id."""
    app = make_app()
    client = app.test_client()
    path = preview_path(client)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert set(data) <= {"sid", "csrf_token"}
    assert path.rsplit("/", 1)[1] not in json.dumps(data)


def test_previews_expire():
    app = make_app(PREVIEW_TTL_SECONDS=0)
    client = app.test_client()
    path = preview_path(client)
    assert client.get(path).status_code == 404
    assert client.get(path + "/parameters.json").status_code == 404


def test_no_session_pushes_out_another_sessions_previews():
    """Issue 8 item 5: 510 posts from one session evicted every other preview."""
    app = make_app()
    victim, attacker = app.test_client(), app.test_client()
    path = preview_path(victim)
    with app.test_request_context():
        store.session_id()
        for _ in range(600):
            store.remember(Options(stack_name="flood"))
    for _ in range(5):
        preview_path(attacker)
    assert parameters(victim, path)["CryptoKey"] == KNOWN_KEY
    assert app.extensions.get("pushstack_previews") is None  # no store in memory at all
