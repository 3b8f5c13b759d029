"""The wizard as an attacker sees it (issue 8): sealed state, hosts, origins, access, serving."""

import base64
import contextlib
import dataclasses
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import KNOWN_KEY, PROCESSOR_FORM, VALID_FORM
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


def test_every_option_field_round_trips_with_its_type():
    """Whatever fields Options gains, each changed value comes back, tuples as tuples."""
    changed = {}
    for field in dataclasses.fields(Options):
        default = field.default
        if isinstance(default, bool):
            changed[field.name] = not default
        elif isinstance(default, int):
            changed[field.name] = default + 1
        elif isinstance(default, tuple):
            changed[field.name] = (f"{field.name}-1", f"{field.name}-2")
        else:
            changed[field.name] = f"{field.name}-value"
    options = Options(**changed)
    app = make_app()
    with app.test_request_context():
        back = store.recall(store.remember(options))
    assert back == options
    for field in dataclasses.fields(Options):
        assert type(getattr(back, field.name)) is type(changed[field.name]), field.name


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


def test_a_preview_address_is_never_too_long_to_open():
    """The longest values the form accepts, random so that nothing compresses: either a
    preview gunicorn can open (request line at most 8,190 characters), or a clear error."""
    import random
    import string

    from cryptography.fernet import Fernet

    rng = random.Random(8)

    def text(length, alphabet):
        return "".join(rng.choice(alphabet) for _ in range(length))

    lower = string.ascii_lowercase + string.digits
    host = ".".join(text(62, lower) for _ in range(4))[:253]
    form = {
        **PROCESSOR_FORM,
        "crypto_key": ",".join(Fernet.generate_key().decode() for _ in range(91)),
        "stack_name": "a" + text(127, string.ascii_letters + string.digits),
        "autopush_image": "a" + text(254, lower + "._/:-"),
        "messages_api_image": "a" + text(254, lower + "._/:-"),
        "processor_code_key": text(1020, string.ascii_letters + string.digits + "!_.*'()/-")
        + ".zip",
        "key_name": text(255, string.ascii_letters + string.digits + "-_"),
        "ssh_cidr": "198.51.100.0/24",
        "websocket_hostname": host,
        "endpoint_hostname": host[::-1].strip(".-"),
        "messages_api_hostname": host[1:],
    }
    response = make_app().test_client().post("/", data=form)
    if response.status_code == 303:
        path = urlsplit(response.headers["Location"]).path
        assert len(f"GET {path}/parameters.json HTTP/1.1") <= 8190
    else:
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "preview&#39;s address too long" in page
        assert 'id="crypto_key-error"' in page


# Finding 1: DNS rebinding. Only the wizard's own host names; changes only from its pages.

ATTACKER_HOSTS = ["rebind.attacker.example:5099", "evil.example", "127.0.0.1.nip.io"]


@pytest.mark.parametrize("host", ATTACKER_HOSTS)
def test_another_host_name_gets_nothing(host):
    app = make_app()
    client = app.test_client()
    form = client.get("/", headers={"Host": host})
    assert form.status_code == 400
    page = form.get_data(as_text=True)
    assert "does not answer to this host name" in page
    assert "csrf_token" not in page and "<form" not in page
    assert 'href="/static/wizard.css"' in page  # the error page itself renders whole
    assert host not in page
    posted = client.post("/", data=VALID_FORM, headers={"Host": host})
    assert posted.status_code == 400
    assert "Location" not in posted.headers
    # Nor can it open a preview made on the real host, or get redirects built on its name.
    path = preview_path(client)
    for url in (path, path + "/parameters.json", "/static//wizard.js", "/preview/x/"):
        response = client.get(url, headers={"Host": host})
        assert response.status_code == 400, url
        assert KNOWN_KEY not in response.get_data(as_text=True)
        assert host.split(":")[0] not in response.headers.get("Location", "")


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:8000"])
def test_the_loopback_names_are_served_with_or_without_a_port(host):
    assert make_app().test_client().get("/", headers={"Host": host}).status_code == 200


def test_trusted_hosts_are_configurable(monkeypatch):
    monkeypatch.setenv("PUSHSTACK_TRUSTED_HOSTS", "wizard.example.com, push-admin.internal:8443")
    client = make_app().test_client()
    assert client.get("/", headers={"Host": "wizard.example.com"}).status_code == 200
    assert client.get("/", headers={"Host": "push-admin.internal:8443"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400


def test_a_rejected_host_page_renders_even_when_the_template_fails(monkeypatch):
    """Whatever failed, an error page: the plain one when the template cannot render."""
    app = make_app()

    def broken(*args, **kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr("webapp.errors.render_template", broken)
    response = app.test_client().get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "does not answer to this host name" in response.get_data(as_text=True)


CROSS_ORIGINS = [
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost:8080"},  # another service on this machine
    {"Origin": "https://localhost"},
    {"Origin": "null"},  # a sandboxed frame or a data: page
    {"Referer": "http://evil.example/page"},
]


@pytest.mark.parametrize("headers", CROSS_ORIGINS)
def test_a_change_from_another_origin_is_refused(headers):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET})  # CSRF on, as served
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/", data={**VALID_FORM, "csrf_token": token}, headers=headers)
    assert response.status_code == 403
    assert "another site" in response.get_data(as_text=True)
    assert "Location" not in response.headers


@pytest.mark.parametrize("headers", [{"Origin": "http://localhost"}, {}])
def test_a_change_from_the_wizards_own_page_is_accepted(headers):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET})
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/", data={**VALID_FORM, "csrf_token": token}, headers=headers)
    assert response.status_code == 303


def csrf_token(client, path="/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


# Finding 2: the session cookie is the wizard's own, and unlocks nothing by itself.


def test_the_session_cookie_has_a_name_of_its_own():
    app = make_app()
    client = app.test_client()
    path = preview_path(client)
    assert app.config["SESSION_COOKIE_NAME"] == "pushstack_session"
    # Another local app's "session" cookie (browsers share cookies across ports) changes nothing.
    client.set_cookie("session", "eyJvdGhlciI6ImFwcCJ9.x.y")
    assert parameters(client, path)["CryptoKey"] == KNOWN_KEY


def test_over_tls_the_cookie_is_host_only_and_secure_and_hsts_is_sent():
    app = make_app(TLS=True)
    response = app.test_client().get("/", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-pushstack_session=")
    assert "; Secure" in cookie and "; Path=/" in cookie and "Domain" not in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_no_hsts_over_plain_http_on_loopback():
    assert "Strict-Transport-Security" not in make_app().test_client().get("/").headers


def test_csrf_protection_holds_over_https_without_a_referer():
    """A browser may send no Referer: Flask-WTF's strict check would refuse the form."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "TLS": True})
    client = app.test_client()
    page = client.get("/", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/",
        data={**VALID_FORM, "csrf_token": token},
        base_url="https://localhost",
        headers={"Origin": "https://localhost"},
    )
    assert response.status_code == 303


# Finding 6: the secret key, and serving beyond this machine.


@pytest.mark.parametrize("weak", ["x", "1234", "secret", "a" * 64, "0123456789abcdef" * 2])
def test_a_weak_secret_key_is_refused(monkeypatch, weak):
    monkeypatch.setenv("PUSHSTACK_SECRET_KEY", weak)
    with pytest.raises(RuntimeError, match="too weak: give at least 32 random bytes"):
        create_app()


def test_a_numeric_secret_key_stays_a_string(monkeypatch):
    """from_prefixed_env parses JSON: 1234... became an int and every request failed."""
    digits = "31415926535897932384626433832795028841971693993751058209749445923078164"
    monkeypatch.setenv("PUSHSTACK_SECRET_KEY", digits)
    monkeypatch.setenv(
        "PUSHSTACK_ACCESS_TOKEN", "2718281828459045235360287471352662497757247093699959"
    )
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    assert app.config["SECRET_KEY"] == digits
    assert app.config["ACCESS_TOKEN"] == "2718281828459045235360287471352662497757247093699959"
    client = app.test_client()
    assert client.get("/signin").status_code == 200


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        "3c9a1f0e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a29180716f5e4d3c2b1a09f8e",
        "x9mN3bV7cX1zL5kJ8hG2fD4sA6pO0iU9yT3rE7wQ5eM=",
    ],
)
def test_a_strong_secret_key_is_accepted(monkeypatch, secret):
    monkeypatch.setenv("PUSHSTACK_SECRET_KEY", secret)
    assert create_app().config["SECRET_KEY"] == secret


EXPOSED = {
    "SECRET_KEY": SECRET,
    "ACCESS_TOKEN": "Zq8vN2kP4rT6wY1xB3mC5dF7",
    "TLS": True,
    "TRUSTED_HOSTS": "wizard.example.com",
}


def test_off_loopback_every_missing_safeguard_is_named_at_once(monkeypatch):
    monkeypatch.delenv("PUSHSTACK_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError) as refused:
        create_app({"BIND": "0.0.0.0:5000"})
    message = str(refused.value)
    assert "beyond this machine (0.0.0.0:5000)" in message
    for needed in ("PUSHSTACK_SECRET_KEY", "PUSHSTACK_ACCESS_TOKEN", "TLS", "TRUSTED_HOSTS"):
        assert needed in message


@pytest.mark.parametrize("missing", list(EXPOSED))
def test_off_loopback_each_safeguard_is_required(monkeypatch, missing):
    monkeypatch.delenv("PUSHSTACK_SECRET_KEY", raising=False)
    config = {**EXPOSED, "BIND": "192.0.2.10:443"}
    del config[missing]
    with pytest.raises(RuntimeError):
        create_app(config)


@pytest.mark.parametrize(
    ("bind", "exposed"),
    [
        (["127.0.0.1:5000"], False),
        (["localhost:5000"], False),
        (["[::1]:5000"], False),
        (["unix:/run/pushstack.sock"], False),
        (["127.0.0.1:5000", "0.0.0.0:5001"], True),
        (["[::]:5000"], True),
        (["wizard.example.com:443"], True),
        (["fd://3"], True),
    ],
)
def test_the_guard_follows_the_bind_address(bind, exposed):
    from webapp import settings

    assert settings.is_exposed(bind, []) is exposed


def test_a_named_proxy_counts_as_serving_beyond_this_machine():
    from webapp import settings

    assert settings.is_exposed(["127.0.0.1:5000"], ["10.0.0.5"])
    with pytest.raises(RuntimeError, match="PUSHSTACK_ACCESS_TOKEN"):
        create_app({"SECRET_KEY": SECRET, "TRUSTED_PROXIES": "10.0.0.5"})


def test_off_loopback_with_every_safeguard_it_starts():
    app = create_app({**EXPOSED, "BIND": "0.0.0.0:443", "TESTING": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-pushstack_session"


def test_behind_a_named_proxy_its_headers_are_believed_and_nobody_elses():
    app = create_app({**EXPOSED, "TLS": False, "TRUSTED_PROXIES": "10.0.0.5", "TESTING": True})
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wizard.example.com",
        "X-Forwarded-For": "198.51.100.7",
    }
    client = app.test_client()
    via_proxy = client.get("/signin", headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert via_proxy.status_code == 200
    assert "Strict-Transport-Security" in via_proxy.headers
    # The same headers from anyone else are ignored: the Host they claim is not the real one.
    direct = client.get(
        "/signin",
        headers={**forwarded, "Host": "10.0.0.9"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert direct.status_code == 400


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"])
def test_on_loopback_a_proxy_not_named_is_refused(header):
    """nginx's plain proxy_pass keeps Host 127.0.0.1 and a loopback peer: without this, the
    internet would reach a wizard with no token through it."""
    response = make_app().test_client().get("/", headers={header: "for=198.51.100.7"})
    assert response.status_code == 403
    assert "PUSHSTACK_TRUSTED_PROXIES" in response.get_data(as_text=True)


def test_on_loopback_it_answers_only_this_machine():
    """A server started on 0.0.0.0 without the guard still refuses other machines."""
    client = make_app().test_client()
    response = client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert response.status_code == 403
    assert "only the machine it runs on" in response.get_data(as_text=True)
    assert client.get("/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


# Issue 6 item 10: the access token.

TOKEN = EXPOSED["ACCESS_TOKEN"]


def token_app(**config):
    return create_app({"TESTING": True, "SECRET_KEY": SECRET, "ACCESS_TOKEN": TOKEN, **config})


def sign_in(client, token=TOKEN, next_path=None):
    page = client.get("/signin" + (f"?next={next_path}" if next_path else ""))
    values = {"csrf_token": csrf_token_of(page), "token": token}
    if next_path:
        values["next"] = next_path
    return client.post("/signin", data=values)


def csrf_token_of(response) -> str:
    text = response.get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)


@pytest.mark.parametrize("path", ["/", "/preview/anything", "/stacks", "/no-such-page"])
def test_with_a_token_every_page_asks_to_sign_in(path):
    response = token_app().test_client().get(path)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/signin"


def test_without_a_token_posts_are_sent_to_sign_in_too():
    response = token_app().test_client().post("/", data=VALID_FORM)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/signin"


def test_static_files_and_the_sign_in_page_stay_open():
    client = token_app().test_client()
    with client.get("/static/wizard.css") as css:
        assert css.status_code == 200
    page = client.get("/signin")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r'<input[^>]*id="token"[^>]*type="password"', text)
    assert TOKEN not in text


def test_signing_in_opens_the_wizard_and_returns_to_the_page_asked_for():
    client = token_app().test_client()
    response = sign_in(client, next_path="/?stack_name=from-link")
    assert response.status_code == 303
    assert response.headers["Location"] == "/?stack_name=from-link"
    assert client.get("/").status_code == 200


def test_a_token_read_from_a_file_keeps_no_newline(monkeypatch):
    monkeypatch.setenv("PUSHSTACK_ACCESS_TOKEN", TOKEN + "\n")
    client = create_app({"TESTING": True, "SECRET_KEY": SECRET}).test_client()
    assert sign_in(client).status_code == 303
    assert client.get("/").status_code == 200


def test_a_wrong_token_is_refused_without_echo():
    client = token_app().test_client()
    response = sign_in(client, token="Zq8vN2kP4rT6wY1xB3mC5dF8")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "That is not the access token" in page
    assert "Zq8vN2kP4rT6wY1xB3mC5dF8" not in page
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: a=b", "/stacks\n", "/\x00", "/\x7f"])
def test_a_next_with_control_characters_goes_to_the_form_not_a_500(target):
    """Issue 16 item 6: CR/LF in `next` made the redirect's Location header fail."""
    client = token_app().test_client()
    page = client.get("/signin", query_string={"next": target})
    assert page.status_code == 200
    values = {"csrf_token": csrf_token_of(page), "token": TOKEN, "next": target}
    response = client.post("/signin", data=values)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_to_another_site(target):
    response = sign_in(token_app().test_client(), next_path=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_token_is_compared_in_constant_time(monkeypatch):
    import webapp.auth

    compared = []

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    real = webapp.auth.hmac.compare_digest
    monkeypatch.setattr(webapp.auth.hmac, "compare_digest", spy)
    sign_in(token_app().test_client())
    assert any(TOKEN.encode() in pair for pair in compared)


def test_the_bearer_token_is_compared_in_constant_time(monkeypatch):
    import webapp.auth

    compared = []
    real = webapp.auth.hmac.compare_digest
    monkeypatch.setattr(
        webapp.auth.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b)
    )
    client = token_app().test_client()
    client.get("/api/stacks/x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert any(TOKEN.encode() in pair for pair in compared)


def test_on_loopback_the_cookie_is_http_only_and_same_site():
    """No script reads it; no cross-site form post or subresource carries it."""
    cookie = make_app().test_client().get("/").headers["Set-Cookie"]
    assert cookie.startswith("pushstack_session=")
    attributes = {part.strip().split("=")[0]: part.strip() for part in cookie.split(";")[1:]}
    assert attributes.keys() >= {"HttpOnly", "Path", "SameSite"}
    assert attributes["SameSite"] == "SameSite=Lax" and attributes["Path"] == "Path=/"
    assert "Domain" not in attributes and "Expires" not in attributes


def test_the_api_takes_a_bearer_token():
    client = token_app().test_client()
    refused = client.get("/api/stacks/some-stack")
    assert refused.status_code == 401
    assert refused.is_json and "Bearer" in refused.get_json()["error"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/api/stacks/x", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    allowed = client.get("/api/stacks/x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code != 401


def test_signing_in_starts_a_new_session():
    """Nothing planted before sign-in (a session id, a CSRF token) survives it."""
    app = token_app()
    client = app.test_client()
    before = csrf_token_of(client.get("/signin"))
    planted = read_session(app, client)
    sign_in(client)
    after = read_session(app, client)
    assert after["sid"] != planted["sid"]
    assert after.get("csrf_token") != planted["csrf_token"]
    assert csrf_token_of(client.get("/")) != before


def test_signing_out_ends_the_session():
    app = token_app()
    client = app.test_client()
    assert "Sign out" not in make_app().test_client().get("/").get_data(as_text=True)
    sign_in(client)
    page = client.get("/")
    assert re.search(r'<form class="signout" method="post" action="/signout">', page.text)
    token = csrf_token_of(page)
    response = client.post("/signout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/").status_code == 303


def read_session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return app.session_interface.get_signing_serializer(app).loads(cookie)


# Finding 7: small ones.


def test_the_csrf_token_is_rotated_when_a_session_starts():
    """A session cookie planted with a known CSRF token (and no session id) is not adopted."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET})
    client = app.test_client()
    serializer = app.session_interface.get_signing_serializer(app)
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], serializer.dumps({"csrf_token": "a" * 40}))
    client.get("/")
    assert read_session(app, client)["csrf_token"] != "a" * 40


@pytest.mark.parametrize("what", ["form", "form error", "error page", "sign-in"])
def test_pages_are_never_cached(what):
    client = token_app(ACCESS_TOKEN="").test_client()
    response = {
        "form": lambda: client.get("/"),
        "form error": lambda: client.post("/", data={**VALID_FORM, "vpc_id": "bad"}),
        "error page": lambda: client.get("/no-such-page"),
        "sign-in": lambda: client.get("/signin"),
    }[what]()
    assert response.headers["Cache-Control"] == "no-store"


# Finding 8: pin what a regression would silently drop.

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer makes browsers send "Origin: null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def test_every_page_sends_the_whole_security_header_set():
    app = make_app()
    client = app.test_client()
    path = preview_path(client)
    responses = {
        "form": client.get("/"),
        "form error": client.post("/", data={**VALID_FORM, "vpc_id": "bad"}),
        "preview": client.get(path),
        "parameters": client.get(path + "/parameters.json"),
        "expired": client.get("/preview/nope"),
        "not found": client.get("/no-such-page"),
        "untrusted host": client.get("/", headers={"Host": "evil.example"}),
        "sign-in": client.get("/signin"),
    }
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        csp = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["Content-Security-Policy"].split(";")
        )
        assert csp == CSP, name
        assert "Strict-Transport-Security" not in response.headers  # plain http on loopback
        assert "Server" not in response.headers


def test_the_crypto_key_field_is_never_autofilled_or_kept_by_the_browser():
    page = make_app().test_client().get("/").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="crypto_key"[^>]*>', page).group(0)
    assert 'type="password"' in field
    assert 'autocomplete="off"' in field
    assert "value=" not in field or 'value=""' in field


def test_one_groups_bad_number_does_not_hide_the_next_groups_size_error():
    """Every error in one round: connection's unreadable minimum, endpoint's bad maximum."""
    client = make_app().test_client()
    form = {**VALID_FORM, "connection_min_size": "one", "endpoint_min_size": "5"}
    page = client.post("/", data=form).get_data(as_text=True)
    assert 'id="connection_min_size-error"' in page
    assert 'id="endpoint_max_size-error"' in page


# The start command: gunicorn with gunicorn.conf.py, as scripts/serve runs it.

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_env(**extra) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PUSHSTACK_") and not name.startswith("AWS_")
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PUSHSTACK_TARGET="sandbox",
        **extra,
    )
    env.setdefault(
        "PUSHSTACK_PREVIEW_WARM", "0"
    )  # workers ready together; tests/test_warm.py warms
    return env


class Served:
    """A gunicorn master on 127.0.0.1; ``request`` opens a fresh connection each time."""

    def __init__(self, port: int, log: Path, tls: ssl.SSLContext | None = None, output=None):
        self.port, self.log, self.cookie, self.tls = port, log, "", tls
        self.output = output  # gunicorn's own log (stdout and stderr)
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    def request(self, method, path, body=None, headers=None):
        if self.tls:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=60, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        all_headers = {"Connection": "close", **(headers or {})}
        if self.cookie:
            all_headers["Cookie"] = self.cookie
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        connection.close()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response, text

    def pids(self, needle: str) -> list[str]:
        """Which worker served each logged request whose line contains ``needle``
        (gunicorn logs a request just after answering it: wait for the line)."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.log.read_text().splitlines() if self.log.exists() else []
            found = [re.search(r"pid=<?(\d+)", line).group(1) for line in lines if needle in line]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@contextlib.contextmanager
def gunicorn(tmp_path, args=(), tls=None, **env):
    """scripts/serve's gunicorn on a free port of 127.0.0.1, stopped at the end."""
    port = free_port()
    log = tmp_path / "access.log"
    env = serve_env(PUSHSTACK_PORT=str(port), PUSHSTACK_ACCESS_LOG=str(log), **env)
    output = tmp_path / "gunicorn.out"
    with output.open("wb") as sink:
        process = subprocess.Popen([*GUNICORN, *args], cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, output.read_text()
                time.sleep(0.2)
        yield Served(port, log, tls, output)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def served(sandbox_server, tmp_path):
    """2 workers, a sandbox URL given, no secret key given (the start command makes one),
    logging at DEBUG (gunicorn then logs every request's path)."""
    with gunicorn(
        tmp_path,
        ["--log-level", "debug"],
        PUSHSTACK_WORKERS="2",
        PUSHSTACK_SANDBOX_URL=sandbox_server.url,
    ) as s:
        yield s


def test_a_preview_made_by_one_worker_opens_in_another(served):
    """No per-process state: the workers share the key scripts/serve made at start."""
    response, page = served.request("GET", "/")
    assert response.status == 200
    assert response.getheader("Server") is None  # no "Server: gunicorn"
    assert response.getheader("Cache-Control") == "no-store"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urlencode({**VALID_FORM, "csrf_token": token})
    response, _ = served.request(
        "POST",
        "/",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": served.origin},
    )
    assert response.status == 303
    path = urlsplit(response.getheader("Location")).path
    (maker,) = served.pids('"POST /"')
    logged = path[: len("/preview/") + 8] + ".../parameters.json"  # the token is not logged
    served.request("GET", path + "/parameters.json")
    assert served.pids(logged), "the access log names a preview by its first characters only"
    for _ in range(60):
        response, text = served.request("GET", path + "/parameters.json?download=1")
        assert response.status == 200
        assert KNOWN_KEY in text
        if set(served.pids(logged)) - {maker}:
            break
    else:
        pytest.fail("every request went to the worker that made the preview")
    # Neither log holds the sealed preview (with the secret key or the cookie it opens the
    # crypto key), a query string, or the key itself.
    token = path.split("/")[2]
    for log in (served.log, served.output):
        text = log.read_text()
        assert "GET /preview/" in text, log  # gunicorn's DEBUG line, the access log's line
        assert token[8:40] not in text, log
        assert "download=1" not in text, log
        assert KNOWN_KEY not in text, log


@pytest.mark.parametrize(
    "how",
    [
        {"PUSHSTACK_HOST": "192.0.2.1"},  # TEST-NET: never reachable, so never exposed
        {"PUSHSTACK_HOST": "127.0.0.1", "args": ["--bind", "192.0.2.1:5000"]},
    ],
    ids=["host", "bind-flag-overrides-host"],
)
def test_off_loopback_startup_refuses_without_token_secret_and_tls(how):
    """The guard reads what gunicorn binds, even when --bind disagrees with PUSHSTACK_HOST."""
    how = dict(how)
    args = how.pop("args", [])
    result = subprocess.run(
        GUNICORN + args,
        cwd=ROOT,
        env=serve_env(
            PUSHSTACK_PORT=str(free_port()), PUSHSTACK_SANDBOX_URL="http://127.0.0.1:9", **how
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "The wizard serves beyond this machine (192.0.2.1:" in output
    for needed in ("PUSHSTACK_SECRET_KEY", "PUSHSTACK_ACCESS_TOKEN", "TLS", "TRUSTED_HOSTS"):
        assert needed in output
    assert "Booting worker" not in output


def test_with_tls_the_cookie_is_secure_and_hsts_is_sent(sandbox_server, tmp_path):
    """gunicorn --certfile/--keyfile: the start command tells the app, which hardens the session."""
    cert, key = self_signed(tmp_path)
    client_tls = ssl.create_default_context(cafile=str(cert))
    with gunicorn(
        tmp_path,
        ["--certfile", str(cert), "--keyfile", str(key)],
        tls=client_tls,
        PUSHSTACK_WORKERS="1",
        PUSHSTACK_SANDBOX_URL=sandbox_server.url,
    ) as served:
        response, _ = served.request("GET", "/")
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=63072000"
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith("__Host-pushstack_session=")
    assert "Secure" in cookie


def test_the_start_command_runs_one_sandbox_for_all_workers(fake_aws_env, tmp_path):
    """No sandbox URL and no credentials: gunicorn.conf.py starts one before the workers fork."""
    labels = set()
    with gunicorn(tmp_path, PUSHSTACK_WORKERS="2") as served:
        for _ in range(30):
            response, page = served.request("GET", "/stacks")
            assert response.status == 200
            labels.add(re.search(r"Sandbox \(moto on (127\.0\.0\.1:\d+)\)", page).group(1))
            if len(set(served.pids('"GET /stacks"'))) > 1:
                break
        assert len(set(served.pids('"GET /stacks"'))) > 1, "one worker served every request"
    (address,) = labels  # every worker names the same sandbox
    with pytest.raises(OSError):  # and it stopped with the wizard
        socket.create_connection(tuple(address.split(":")), timeout=2).close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
