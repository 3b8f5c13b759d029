"""benchmarks/load.py against a wizard in this process: it runs, counts and refuses what it must."""

import base64
import importlib.util
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from webapp import create_app

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "load.py"


@pytest.fixture(scope="module")
def load():
    spec = importlib.util.spec_from_file_location("load_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wizard_url():
    app = create_app({"SECRET_KEY": "load-benchmark-tests" * 2})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_users_fill_submit_and_preview_without_errors(load, wizard_url, capsys):
    assert load.main([wizard_url, "--users", "3", "--rounds", "2"]) == 0
    report = capsys.readouterr().out
    assert "3 users x 2 rounds" in report
    for step in ("form", "submit", "preview", "static"):
        line = next(line for line in report.splitlines() if line.startswith(step))
        count, *_, errors = line.split()[1:]
        assert (int(count), int(errors)) == (6, 0), line


@pytest.mark.parametrize("url", ["http://10.1.2.3:5000", "http://192.0.2.1/"])
def test_only_a_wizard_on_this_machine_is_loaded(load, url):
    with pytest.raises(SystemExit, match="loopback"):
        load.main([url, "--users", "1"])


@pytest.mark.parametrize("argv", [["--users", "1000"], ["--rounds", "0"], ["--seconds", "9999"]])
def test_load_is_bounded(load, argv):
    with pytest.raises(SystemExit):
        load.main(argv)


def test_cloudformation_calls_are_told_from_the_rest(load):
    scope = "Credential=testing/20261128/us-east-1/{}/aws4_request"
    body = base64.b64encode(b"Action=DescribeStackEvents&StackName=push&Version=2010-05-15")
    cloudformation = {
        "headers": {"Authorization": "AWS4-HMAC-SHA256 " + scope.format("cloudformation")},
        "body": body.decode(),
        "body_encoded": True,
        "url": "http://127.0.0.1/",
    }
    s3 = {"headers": {"Authorization": scope.format("s3")}, "body": "", "url": "http://x/b/k"}
    assert load._cloudformation_action(cloudformation) == "DescribeStackEvents"
    assert load._cloudformation_action(s3) is None
