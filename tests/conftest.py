import contextlib
import os
import shutil
import tempfile
import threading

# Everything the suite writes to the temporary folder (the sandbox's seed locks, moto's
# request recording, cfn-lint's shared findings, pytest's tmp_path, Chromium's profiles,
# screenshots) goes into one folder of its own, removed when the run ends: set before
# the wizard's modules are imported, since some read the temporary folder then.
SUITE_TMP = tempfile.mkdtemp(prefix="pushstack-tests-")
_OUTER_TMP = (os.environ.get("TMPDIR"), tempfile.tempdir)
os.environ["TMPDIR"] = SUITE_TMP  # for the subprocesses: moto's server, Chromium, redis
tempfile.tempdir = SUITE_TMP
# The sandbox completes every operation at once, so the suite takes no longer for the
# pacing scripts/serve's sandbox does; the one test of pacing starts its own sandbox.
os.environ["PUSHSTACK_SANDBOX_PACE"] = "0"

import pytest  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from webapp import create_app  # noqa: E402


def pytest_unconfigure(config):
    """Remove the suite's temporary folder and give the outer one back."""
    environ, cached = _OUTER_TMP
    if environ is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = environ
    tempfile.tempdir = cached
    shutil.rmtree(SUITE_TMP, ignore_errors=True)


# A real Fernet key, so the tests can look for it in every response.
KNOWN_KEY = "Kxq0Ulq7R9dVqzYqjY3bq6cdc8cJ2ZbC2KfVh6m3m0Q="

# autopush 1.57.0's form (tables, image, log processing); RS_FORM is autopush-rs's.
VALID_FORM = {
    "stack_name": "push-test",
    "region": "eu-west-1",
    "engine": "autopush-legacy",
    "crypto_key": KNOWN_KEY,
    "table_prefix": "autopush_test",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0\nsubnet-0123456789abcdef1",
    "log_processing": "none",
    "connection_instance_type": "t3.small",
    "connection_min_size": "1",
    "connection_max_size": "4",
    "connection_desired_capacity": "2",
    "endpoint_instance_type": "t3.small",
    "endpoint_min_size": "1",
    "endpoint_max_size": "4",
    "endpoint_desired_capacity": "2",
    "autopush_image": "mozilla/autopush:1.57.0",
}

RS_FORM = {
    **{k: v for k, v in VALID_FORM.items() if k not in ("table_prefix", "autopush_image")},
    "engine": "autopush-rs",
}

PROCESSOR_FORM = {
    **VALID_FORM,
    "log_processing": "processor",
    "private_subnet_ids": "subnet-0123456789abcdef2, subnet-0123456789abcdef3",
    "private_route_table_ids": "rtb-0123456789abcdef0",
    "messages_api_subnet_id": "subnet-0123456789abcdef2",
    "processor_code_bucket": "my-processor-code",
    "processor_code_key": "push_processor.zip",
}


@pytest.fixture
def app():
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session", autouse=True)
def fake_aws_env():
    """Fake credentials, no AWS config files and the sandbox as target, for every test:
    nothing can reach or read a real account. A wizard without PUSHSTACK_SANDBOX_URL
    starts its own sandbox; the ``sandbox_target`` fixture points it at the session's."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "PUSHSTACK_SANDBOX_URL",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("PUSHSTACK_TARGET", "sandbox")
        # Each test's wizard keeps progress and previews to itself (tests of the shared
        # folders give them one): a test that fakes a render or a failure leaks it to none.
        patch.setenv("PUSHSTACK_PROGRESS_SHARED_DIR", "")
        patch.setenv("PUSHSTACK_PREVIEW_SHARED_DIR", "")
        yield


@pytest.fixture(scope="session")
def sandbox_server(fake_aws_env):
    """One moto server for the test session, on 127.0.0.1 and a free port (``.url``)."""
    from pushstack import sandbox

    server = sandbox.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_target(sandbox_server, monkeypatch):
    """The wizard of this test targets the session's sandbox (PUSHSTACK_SANDBOX_URL)."""
    monkeypatch.setenv("PUSHSTACK_TARGET", "sandbox")
    monkeypatch.setenv("PUSHSTACK_SANDBOX_URL", sandbox_server.url)
    return sandbox_server


CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def served_wizard(config: dict):
    """A wizard made with ``config`` on a free port of 127.0.0.1, in a background
    thread, for the browser tests: yields (app, base URL)."""
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for all browser tests (Playwright's sync API runs one at a
    time). Skipped without Chromium when run by hand; a failure when scripts/test
    requires it (PUSHSTACK_REQUIRE_BROWSER)."""
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        message = f"Debian's chromium is not installed at {CHROMIUM} (scripts/test installs it)"
        if os.environ.get("PUSHSTACK_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"PUSHSTACK_REQUIRE_BROWSER is set but {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
