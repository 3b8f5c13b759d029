"""Issue 16 items 4, 5 and 6: other pages cannot make the wizard call AWS, a GET creates
nothing in the sandbox, odd headers give no 500 on any route, logs keep no whole token,
and a rejected Host learns nothing of the target."""

import re

import pytest

from pushstack.cloud import CloudError
from pushstack.cloud.client import Cloud
from webapp import create_app
from webapp.cloud import get_access
from webapp.limits import RATE_LIMITED

SECRET = "p4Vx9qLr2Tz7Nw3Ks8Bd1Fh6Jm0Yc5Gu2Ae7Wi4Ro9Xs"


@pytest.fixture
def make(sandbox_server, tmp_path):
    def make_app(**config):
        app = create_app(
            {
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "SECRET_KEY": SECRET,
                "TARGET": "sandbox",
                "SANDBOX_URL": sandbox_server.url,
                "STATE_DIR": str(tmp_path),
                **config,
            }
        )
        with app.app_context():
            get_access().target()  # resolved (and its own region seeded) before counting
        return app

    return make_app


@pytest.fixture
def aws_calls(monkeypatch):
    """Every AWS call the wizard's Cloud objects make, as (service, operation)."""
    calls = []
    real = Cloud._call

    def counted(self, service, operation, **kwargs):
        try:
            result = real(self, service, operation, **kwargs)
        except CloudError as exc:
            if exc.code != RATE_LIMITED:  # a refused call never reached AWS
                calls.append((service, operation))
            raise
        calls.append((service, operation))
        return result

    monkeypatch.setattr(Cloud, "_call", counted)
    return calls


# Item 4: GETs from other pages reach no AWS.

FOREIGN = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of 127.0.0.1
    {"Origin": "http://127.0.0.1:8080"},
    {"Referer": "http://localhost:8080/page"},
    {"Referer": "http://[::1"},  # malformed: counts as foreign, not a 500
]
AWS_PAGES = ["/", "/?region=eu-west-2", "/stacks", "/stacks/web-x", "/stacks/web-x/delete"]


@pytest.mark.parametrize("headers", FOREIGN)
def test_a_get_from_another_page_is_refused_before_any_aws_call(make, aws_calls, headers):
    client = make().test_client()
    for path in AWS_PAGES:
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert "Another site (or a page of another program" in response.get_data(as_text=True)
    api = client.get("/api/stacks/web-x", headers=headers)
    assert api.status_code == 403
    assert "did not open it" in api.get_json()["error"]
    assert aws_calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # a typed address, a bookmark
        {"Referer": "http://localhost/stacks"},
        {},  # a script
    ],
)
def test_the_wizards_own_pages_typed_addresses_and_scripts_still_get_through(make, headers):
    client = make().test_client()
    assert client.get("/stacks", headers=headers).status_code == 200
    assert client.get("/api/stacks/never-made", headers=headers).status_code == 404


def test_an_unknown_stack_is_asked_for_once_per_few_seconds(make, aws_calls):
    client = make().test_client()
    for _ in range(5):
        assert client.get("/api/stacks/never-made-1").status_code == 404
        assert client.get("/stacks/never-made-1").status_code == 404
    described = [call for call in aws_calls if call[1] == "describe_stacks"]
    assert len(described) == 1, aws_calls


@pytest.mark.parametrize("with_cookie", [True, False], ids=["session", "no-session"])
def test_aws_calls_per_client_and_minute_are_bounded(make, aws_calls, with_cookie):
    """958 calls in 10 s through /api/stacks/<random> before: now a bound per client."""
    app = make(AWS_CALLS_PER_MINUTE=10)
    client = app.test_client()
    client.get("/signin")  # a session, or not
    statuses = []
    for number in range(80):
        if not with_cookie:
            client = app.test_client()
        response = client.get(f"/api/stacks/random-{number}")
        statuses.append(response.status_code)
    limit = 10 if with_cookie else 40
    assert len(aws_calls) <= limit
    assert statuses[-1] == 429
    data = response.get_json()
    assert "more than" in data["error"] and "AWS calls in a minute" in data["error"]
    assert "Wait a minute" in data["advice"]
    assert response.headers["Retry-After"]
    page = (client if with_cookie else app.test_client()).get("/stacks/random-x")
    assert page.status_code == 429
    assert "Wait a minute" in page.get_data(as_text=True)


def test_fresh_session_cookies_do_not_lift_the_bound_of_an_address(make, aws_calls):
    """The bound was per browser session, and a session cookie is free: a script that
    took a new one every few calls was never refused. Its address is bounded too."""
    app = make(AWS_CALLS_PER_MINUTE=10)
    statuses = []
    for round_number in range(20):
        client = app.test_client()
        assert client.get("/signin").status_code == 200  # a new session, no AWS call
        for number in range(5):  # fewer calls than one session may make
            response = client.get(f"/api/stacks/fresh-{round_number}-{number}")
            statuses.append(response.status_code)
    assert len(aws_calls) <= 40, len(aws_calls)  # 4 times a session's bound
    assert statuses[-1] == 429
    assert "AWS calls in a minute" in response.get_json()["error"]
    assert "this address" in response.get_json()["error"]
    # Another address is not held up by this one.
    other = app.test_client().get("/api/stacks/x", environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert other.status_code == 404


def _tagged_vpcs(sandbox_url, region):
    from pushstack import sandbox

    ec2 = sandbox._session(sandbox_url, region)("ec2")
    return ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": [sandbox.NETWORK_TAG]}])["Vpcs"]


def test_a_get_never_seeds_a_region_only_a_post_does(make, sandbox_server):
    region = "ap-northeast-3"
    assert _tagged_vpcs(sandbox_server.url, region) == []
    app = make(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get(f"/?region={region}").get_data(as_text=True)
    assert _tagged_vpcs(sandbox_server.url, region) == []  # looked, made nothing
    assert 'id="vpc_id"' in page and "vpc-" not in re.search(
        r'<input[^>]*id="vpc_id"[^>]*>', page
    ).group(0)
    # The form's script asks for it with a POST (CSRF token, same origin).
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/sandbox/network", data={"region": region}).status_code == 400
    response = client.post("/sandbox/network", data={"region": region, "csrf_token": token})
    assert response.status_code == 204
    (vpc,) = _tagged_vpcs(sandbox_server.url, region)
    page = client.get(f"/?region={region}").get_data(as_text=True)
    assert vpc["VpcId"] in re.search(r'<input[^>]*id="vpc_id"[^>]*>', page).group(0)


# Item 6: no 500s, strict tokens, and no whole token in any log.

ODD_HEADERS = [
    {"Referer": "http://[::1"},  # urlsplit raised: a 500 on every POST route
    {"Referer": "http://localhost:99999999/"},
    {"Referer": "javascript:alert(1)"},
    {"Referer": "//"},
    {"Origin": "http://[::1"},
    {"Origin": ""},
    {"Sec-Fetch-Site": " Same-Origin "},
    {"Sec-Fetch-Site": "\u00ff"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer \u00ff\u00fe"},
    {"Cookie": "pushstack_session=garbage.x.y; session=\u00ff"},
    {"Content-Type": "multipart/form-data"},  # no boundary
    {"If-Modified-Since": "not a date", "Range": "bytes=9-1"},
    {"Host": "localhost:abc"},
    {"X-Forwarded-For": "[::1"},
]


def _path(rule, preview_id: str) -> str:
    values = {"name": "web-x", "preview_id": preview_id, "filename": "wizard.css", "fmt": "json"}
    return rule.rule.split("<")[0] + "/".join(
        values[part.split(">")[0].split(":")[-1]] + part.split(">", 1)[1]
        for part in rule.rule.split("<")[1:]
    )


@pytest.mark.parametrize("token", ["", "Zq8vN2kP4rT6wY1xB3mC5dF7"], ids=["open", "token"])
def test_every_route_answers_every_odd_header_without_a_500(make, token):
    from conftest import VALID_FORM

    app = make(ACCESS_TOKEN=token)
    client = app.test_client()
    if token:
        client.post("/signin", data={"token": token})
    submitted = client.post("/", data=VALID_FORM)
    assert submitted.status_code == 303
    preview_id = submitted.headers["Location"].rsplit("/", 1)[1]
    paths = []
    for rule in app.url_map.iter_rules():
        path = _path(rule, preview_id)
        for method in sorted(rule.methods & {"GET", "POST"}):
            paths.append((method, path))
    assert len(paths) >= 20
    for method, path in paths:
        for headers in ODD_HEADERS:
            with client.open(path, method=method, headers=headers, data={}) as response:
                assert response.status_code < 500, (method, path, headers)


def _preview(client) -> str:
    from conftest import VALID_FORM

    response = client.post("/", data=VALID_FORM)
    assert response.status_code == 303
    return response.headers["Location"]


@pytest.mark.parametrize("odd", [".", "~", "*", "!", " ", "="])
def test_a_token_with_a_character_outside_its_alphabet_opens_nothing(make, odd):
    """The decoder skipped such characters: the token opened, and its tail escaped the
    logs' redaction (which stops at the first character outside the alphabet)."""
    client = make().test_client()
    path = _preview(client)
    assert client.get(path + "/parameters.json").status_code == 200
    forged = path[:20] + odd + path[20:]
    assert client.get(forged + "/parameters.json").status_code == 404


def test_flasks_exception_log_keeps_no_whole_token(make, monkeypatch, caplog):
    app = make()
    app.testing = False  # as served: the exception is logged, then the 500 page
    client = app.test_client()
    path = _preview(client)
    token = path.rsplit("/", 1)[1]

    def broken(*args, **kwargs):
        raise RuntimeError(f"failed while serving {path}/parameters.json?download=1")

    monkeypatch.setattr("webapp.preview.render.parameters_file", broken, raising=False)
    monkeypatch.setattr("webapp.preview.store.recall", broken)
    caplog.set_level("DEBUG")
    response = client.get(path + "/parameters.json?download=1")
    assert response.status_code == 500
    assert "Exception on /preview/" in caplog.text  # Flask's own line, with the traceback
    assert "RuntimeError" in caplog.text
    assert token[:8] in caplog.text
    assert token[8:] not in caplog.text
    assert "download=1" not in caplog.text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ('"GET /preview/AbCdEfGh1234567890_-xyz HTTP/1.1"', '"GET /preview/AbCdEfGh... HTTP/1.1"'),
        ("/preview/AbCdEfGh.1234567890", "/preview/AbCdEfGh..."),
        ("/preview/%41bCdEfGh1234567890/x", "/preview/%41bCdEf..."),
        # Werkzeug answers "//" with a 308 to the merged path: the line keeps the request's.
        (
            '"GET /preview//AbCdEfGh1234567890_-xyz/parameters.json HTTP/1.1"',
            '"GET /preview//AbCdEfGh.../parameters.json HTTP/1.1"',
        ),
        ("GET //preview///AbCdEfGh1234567890 x", "GET //preview///AbCdEfGh... x"),
        # A token cut by a slash, or in capitals: the rest is still the token's.
        ("/preview/AbCd/EfGh1234567890_-xyz/template.json", "/preview/AbCd/EfG.../template.json"),
        ("/PREVIEW/AbCdEfGh1234567890", "/PREVIEW/AbCdEfGh..."),
        ("/Preview/AbCdEfGh1234567890?download=1", "/Preview/AbCdEfGh...?..."),
        # Percent-encoded (a raw request line): %2F is a slash, %70 a "p".
        ("GET /preview%2FAbCdEfGh1234567890 x", "GET /preview%2FAbCdEfGh... x"),
        ("GET /%70review/AbCdEfGh1234567890#x", "GET /%70review/AbCdEfGh...#x"),
        (
            "/preview/AbCdEfGh1234567890/template.readable.yaml",
            "/preview/AbCdEfGh.../template.readable.yaml",
        ),
        ("'/preview/AbCdEfGh1234567890/processor.zip'", "'/preview/AbCdEfGh.../processor.zip'"),
        ("GET /?stack_name=a&crypto_key=b", "GET /?..."),
        (
            "key Kxq0Ulq7R9dVqzYqjY3bq6cdc8cJ2ZbC2KfVh6m3m0Q= in a message",
            "key **** in a message",
        ),
    ],
)
def test_one_redaction_for_every_log_line(line, kept):
    import logging

    from webapp import logs

    assert logs.redact(line) == kept
    logs.install()
    record = logging.getLogger("anything.at.all").makeRecord(
        "anything.at.all", logging.INFO, __file__, 1, "%s", (line,), None
    )
    assert record.getMessage() == kept


def test_the_access_log_of_a_doubled_slash_keeps_no_whole_token(make, tmp_path):
    """``GET /preview//<token>/parameters.json`` is answered with a 308 to the merged path
    (the same browser gets its own address back), and gunicorn's access line, in the
    format gunicorn.conf.py sets, kept the whole token."""
    import datetime
    import runpy
    import types
    from pathlib import Path

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    client = make().test_client()
    path = _preview(client)
    token = path.rsplit("/", 1)[1]
    response = client.get(path.replace("/preview/", "/preview//") + "/parameters.json")
    assert response.status_code == 308
    assert response.headers["Location"].endswith(path + "/parameters.json")
    assert response.headers["Cache-Control"] == "no-store"
    served = runpy.run_path(str(Path(__file__).parent.parent / "gunicorn.conf.py"))
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", served["access_log_format"])
    logger = Logger(config)
    answer = types.SimpleNamespace(
        status="308 PERMANENT REDIRECT", sent=0, headers=list(response.headers.items())
    )
    environ = dict(response.request.environ, RAW_URI=response.request.environ["PATH_INFO"])
    asked = list(response.request.headers.items())
    logger.access(answer, asked, environ, datetime.timedelta(microseconds=900))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert '"GET /preview//' in line and " 308 " in line
    assert token[:8] in line
    assert token[8:] not in line and token[8:20] not in line


# Item 5: a Host the wizard does not answer to learns nothing of the target.


@pytest.mark.parametrize("path", ["/", "/stacks", "/preview/x", "/no-such-page"])
def test_the_rejected_host_page_names_no_target_or_account(make, sandbox_server, path):
    client = make().test_client()
    own = client.get("/stacks").get_data(as_text=True)
    assert re.search(r"account \d{12}", own)  # the wizard's own host sees them
    response = client.get(path, headers={"Host": "rebind.attacker.example"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "does not answer to this host name" in page
    assert "Target:" not in page
    assert not re.search(r"\d{12}", page)
    assert sandbox_server.url.split("//")[1] not in page and "Sandbox" not in page


@pytest.mark.parametrize(
    ("headers", "peer"),
    [({"X-Forwarded-For": "198.51.100.7"}, "127.0.0.1"), ({}, "192.0.2.44")],
    ids=["unnamed-proxy", "other-machine"],
)
def test_a_refused_peer_learns_no_target_or_account(make, headers, peer):
    response = make().test_client().get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Target:" not in page and not re.search(r"\d{12}", page)
