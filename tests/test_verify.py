"""The round trip and the load probe (pushstack.verify, the product's client) against
tests/pushserver.py, the tests' stand-in for a stack's nodes, on 127.0.0.1."""

import io
import json
import socket
import sys

import pytest
from pushserver import Behaviour, PushServer, certificate, server_tls
from pywebpush import WebPusher

from pushstack import cli
from pushstack.options import LEGACY, RS
from pushstack.verify import limits, roundtrip
from pushstack.verify import probe as probes
from pushstack.verify import report as reports
from pushstack.verify import targets as urls
from pushstack.verify.connection import Unexpected
from pushstack.verify.keys import Subscriber, VapidKey, b64url, b64url_decode

QUICK = roundtrip.Timeouts(connect=2, reply=2, send=2, delivery=0.5)
STEPS = [
    "connect", "hello", "register", "send", "receive", "decrypt", "ack", "close",
    "send_stored", "reconnect", "receive_stored", "ack_stored", "unregister",
]  # fmt: skip


# The outputs that tell the engines apart (pushstack.template.outputs): autopush-rs
# stacks have StoreId (their Valkey store), autopush 1.57.0 stacks their table names.
ENGINE_OUTPUTS = {
    RS: {"StoreId": "push-store-1a2b3c4d"},
    LEGACY: {"RouterTableName": "autopush_router", "MessageTableName": "autopush_message"},
}


def targets(server: PushServer, engine: str = LEGACY) -> urls.PushTargets:
    return urls.from_outputs(
        {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        | ENGINE_OUTPUTS.get(engine, {})
    )


def round_trip(behaviour=None, engine=LEGACY, **server_options):
    with PushServer(behaviour=behaviour, **server_options) as server:
        report = roundtrip.run_round_trip(targets(server, engine), timeouts=QUICK)
    return report, server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_round_trip_passes_every_step_and_acks_both_pushes():
    report, server = round_trip()
    assert report.ok, "\n".join(report.lines())
    assert [step.name for step in report.steps] == STEPS
    assert server.pushes == [201, 201]
    assert len(server.acked) == 2  # the direct and the stored one, each deleted by its ack
    assert all(step.milliseconds >= 0 for step in report.steps)
    decrypted = next(step for step in report.steps if step.name == "decrypt")
    assert decrypted.detail.endswith("bytes, equal")
    assert report.lines()[-1] == "The stack delivers pushes: every step passed."


def test_round_trip_over_tls_verifies_the_certificate(tmp_path):
    cert, key = certificate(tmp_path, "127.0.0.1")
    with PushServer(tls=server_tls(cert, key)) as server:
        assert server.ws_url.startswith("wss://")
        report = roundtrip.run_round_trip(targets(server), timeouts=QUICK, ca_file=str(cert))
    assert report.ok, "\n".join(report.lines())
    assert report.steps[0].detail == "certificate verified"


@pytest.mark.parametrize("trusted", [True, False], ids=["name-mismatch", "unknown-authority"])
def test_a_certificate_for_another_name_is_refused(tmp_path, trusted):
    cert, key = certificate(tmp_path, "push.example.com")
    with PushServer(tls=server_tls(cert, key)) as server:
        ca = str(cert) if trusted else None
        report = roundtrip.run_round_trip(targets(server), timeouts=QUICK, ca_file=ca)
    failed = report.failure
    assert failed.name == "connect"
    assert "certificate this machine does not accept" in failed.got
    if trusted:  # the authority is trusted: only the name is wrong
        assert "mismatch" in failed.got.lower()
    assert "certificate name" in failed.advice
    assert server.pushes == []


def test_a_refused_socket_says_so_and_what_to_check():
    port = free_port()
    outputs = {"WebSocketURL": f"ws://127.0.0.1:{port}/", "EndpointURL": "http://127.0.0.1:9"}
    report = roundtrip.run_round_trip(urls.from_outputs(outputs), timeouts=QUICK)
    assert not report.ok
    assert [step.name for step in report.steps] == ["connect"]
    assert "refused" in report.failure.got
    assert "security group" in report.failure.advice
    text = "\n".join(report.lines())
    assert "expected: a WebSocket connection" in text and "check:" in text


@pytest.mark.parametrize(
    ("behaviour", "step", "got", "advice"),
    [
        (Behaviour(hello_status=503), "hello", "hello answered with status 503", "router table"),
        (Behaviour(register_status=500), "register", "status 500", "crypto key"),
        (Behaviour(endpoint_status=404), "send", "HTTP 404", "same crypto key"),
        (Behaviour(endpoint_status=410), "send", "HTTP 410", "router table"),
        (Behaviour(endpoint_status=413), "send", "HTTP 413", "payload limit"),
        (Behaviour(deliver=False), "receive", "nothing within 0.5 s", "8081"),
        (Behaviour(corrupt=True), "decrypt", "does not decrypt", "altered"),
        (Behaviour(forget_uaid=True), "reconnect", "the store did not know", "router table"),
        (Behaviour(ignore_ack=True), "receive_stored", "the first push again", "message table"),
        (Behaviour(store=False), "receive_stored", "nothing within 0.5 s", "message table"),
    ],
    ids=[
        "hello",
        "register",
        "404",
        "410",
        "413",
        "never-arrives",
        "corrupt",
        "forgotten-uaid",
        "ack-ignored",
        "not-stored",
    ],
)
def test_each_failure_names_the_step_what_came_and_what_to_check(behaviour, step, got, advice):
    report, _ = round_trip(behaviour)
    failed = report.failure
    assert failed is not None and failed.name == step
    assert report.steps[-1] is failed  # the round trip stops at the first failure
    assert got in failed.got
    assert advice in failed.advice
    assert failed.expected


# Where a failure points at the store, the advice names the engine's own: autopush-rs's
# Valkey store (its security group, the nodes' DB_DSN), never tables it does not have.
STORE_FAILURES = {
    "hello": Behaviour(hello_status=503),
    "register": Behaviour(register_status=500),
    "send": Behaviour(endpoint_status=410),
    "receive": Behaviour(deliver=False),
    "reconnect": Behaviour(forget_uaid=True),
    "receive_stored": Behaviour(store=False),
}
RS_ADVICE = {
    "hello": ["Valkey store", "StoreId", "port 6379", "AUTOCONNECT__DB_DSN"],
    "register": ["crypto key", "Valkey store", "AUTOCONNECT__DB_DSN"],
    "send": ["same crypto key", "Valkey store", "port 6379", "AUTOEND__DB_DSN"],
    "receive": ["8081", "Valkey store"],
    "reconnect": ["Valkey store", "AUTOCONNECT__DB_DSN"],
    "receive_stored": ["Valkey store", "AUTOEND__DB_DSN", "AUTOCONNECT__DB_DSN"],
}
LEGACY_ADVICE = {
    "hello": ["router table"],
    "register": ["crypto key", "message table"],
    "send": ["same crypto key", "router table"],
    "receive": ["8081", "message table"],
    "reconnect": ["router table"],
    "receive_stored": ["message table", "TTL attribute"],
}


@pytest.mark.parametrize("step", sorted(STORE_FAILURES))
def test_on_an_rs_stack_the_advice_names_the_valkey_store_not_tables(step):
    report, _ = round_trip(STORE_FAILURES[step], engine=RS)
    failed = report.failure
    assert failed.name == step
    for words in RS_ADVICE[step]:
        assert words in failed.advice, failed.advice
    assert "table" not in failed.advice and "DynamoDB" not in failed.advice


@pytest.mark.parametrize("step", sorted(STORE_FAILURES))
def test_on_a_legacy_stack_the_advice_names_the_dynamodb_tables(step):
    report, _ = round_trip(STORE_FAILURES[step], engine=LEGACY)
    failed = report.failure
    assert failed.name == step
    for words in LEGACY_ADVICE[step]:
        assert words in failed.advice, failed.advice
    assert "Valkey" not in failed.advice and "DB_DSN" not in failed.advice


def test_outputs_that_do_not_say_the_engine_get_the_advice_of_both():
    report, _ = round_trip(Behaviour(hello_status=503), engine="")
    advice = report.failure.advice
    assert "On autopush-rs (Valkey store) stacks:" in advice and "AUTOCONNECT__DB_DSN" in advice
    assert "On autopush 1.57.0 (DynamoDB tables) stacks:" in advice and "router table" in advice


@pytest.mark.parametrize(
    ("outputs", "engine"),
    [(ENGINE_OUTPUTS[RS], RS), (ENGINE_OUTPUTS[LEGACY], LEGACY), ({}, "")],
    ids=["rs", "legacy", "neither"],
)
def test_the_engine_is_read_from_the_stacks_outputs(outputs, engine):
    base = {"WebSocketURL": "wss://ws.example", "EndpointURL": "https://updates.example"}
    assert urls.from_outputs(base | outputs).engine == engine


def test_the_outputs_of_each_engines_template_tell_it():
    """The outputs the templates declare (not a guess): StoreId only on rs stacks."""
    from variants import VARIANTS

    from pushstack import render
    from pushstack.template import build_template

    for name, engine in (("rs", RS), ("none", LEGACY), ("processor", LEGACY)):
        declared = render.to_dict(build_template(VARIANTS[name]))["Outputs"]
        assert urls.engine_of(dict.fromkeys(declared, "x")) == engine, name


def test_a_mixed_case_endpoint_url_still_verifies():
    """Load balancers' DNS names have capitals; autoendpoint takes only the lowercased
    origin as the VAPID audience (the stand-in checks it the same way)."""
    with PushServer(host_name="LocalHost") as server:  # resolves to 127.0.0.1
        assert server.endpoint_url.startswith("http://LocalHost:")
        report = roundtrip.run_round_trip(targets(server), timeouts=QUICK)
    assert report.ok, "\n".join(report.lines())
    assert server.pushes == [201, 201]


@pytest.mark.parametrize(
    ("endpoint", "aud"),
    [
        ("https://Push-Endp-1A2B.us-west-2.elb.amazonaws.com/wpush/v2/x",
         "https://push-endp-1a2b.us-west-2.elb.amazonaws.com"),
        ("HTTPS://Updates.Example:443/wpush/v2/x", "https://updates.example"),
        ("http://Updates.Example:80/wpush/v2/x", "http://updates.example"),
        ("http://Updates.Example:8082/wpush/v2/x", "http://updates.example:8082"),
        ("https://user@updates.example/wpush/v2/x", "https://updates.example"),
    ],
)  # fmt: skip
def test_the_vapid_audience_is_the_endpoints_origin_as_the_url_standard_writes_it(endpoint, aud):
    header = VapidKey().headers(endpoint)["Authorization"]
    token = header.split("t=", 1)[1].split(",", 1)[0]
    claims = json.loads(b64url_decode(token.split(".")[1]))
    assert claims["aud"] == aud


def test_a_notification_that_decrypts_to_something_else_is_a_failure():
    subscriber = Subscriber()
    encrypted = WebPusher(subscriber.subscription("https://push.example/x")).encode(b"other")
    notification = {"data": b64url(encrypted["body"]), "headers": {"encoding": "aes128gcm"}}
    assert roundtrip._compare(subscriber, notification, b"other") == "5 bytes, equal"
    with pytest.raises(Unexpected, match="a different payload: b'other'"):
        roundtrip._compare(subscriber, notification, b"sent")
    with pytest.raises(Unexpected, match="does not decrypt"):
        roundtrip._compare(Subscriber(), notification, b"other")  # another subscriber's keys


def test_a_payload_too_large_for_the_server_is_a_413():
    report, server = round_trip(max_data=16)  # the stand-in's own size check, not a forced answer
    assert report.failure.name == "send"
    assert "HTTP 413: the payload is too large" in report.failure.got
    assert server.pushes == [413]


def test_an_endpoint_on_another_host_is_never_sent_to():
    report, server = round_trip(Behaviour(endpoint_base="http://127.0.0.2:9"))
    assert report.failure.name == "register"
    assert "another host" in report.failure.got
    assert "ENDPOINT_HOSTNAME" in report.failure.advice
    assert server.pushes == []


def test_a_report_survives_being_kept_as_a_dict():
    report, _ = round_trip(Behaviour(deliver=False))
    kept = reports.from_dict(json.loads(json.dumps(report.as_dict())))
    assert kept.lines() == report.lines()
    assert kept.as_dict()["ok"] is False


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "no WebSocketURL and no EndpointURL"),
        ({"WebSocketURL": "wss://a.example"}, "no EndpointURL"),
        ({"WebSocketURL": "https://a.example", "EndpointURL": "https://b"}, "not a ws://"),
        ({"WebSocketURL": "wss://a.example", "EndpointURL": "ftp://b"}, "not an http://"),
    ],
)
def test_outputs_that_name_no_push_service_are_refused(outputs, message):
    with pytest.raises(urls.TargetError, match=message):
        urls.from_outputs(outputs)


def test_only_endpoints_on_the_stacks_endpoint_host_are_owned():
    owned = urls.PushTargets("wss://ws.example", "https://updates.example")
    assert owned.owns("https://updates.example/wpush/v2/abc")
    assert owned.owns("https://updates.example:443/wpush/v2/abc")
    assert not owned.owns("http://updates.example/wpush/v2/abc")
    assert not owned.owns("https://updates.example.evil/wpush/v2/abc")


# The load probe.


def test_the_probe_holds_every_client_and_delivers_every_push():
    seen = []
    with PushServer() as server:
        result = probes.run_probe(
            targets(server), clients=20, seconds=1, rate=20, timeouts=QUICK,
            progress=lambda elapsed, so_far: seen.append((elapsed, so_far.sent)),
        )  # fmt: skip
    assert result.ok, "\n".join(result.lines())
    assert (result.connected, result.held) == (20, 20)
    assert result.sent == result.accepted == result.delivered == 20
    assert result.lost == 0
    assert 0 <= result.percentile(50) <= result.percentile(95) <= result.percentile(99)
    assert server.pushes == [201] * 20 and len(server.acked) == 20
    assert seen and seen[-1][1] == 20  # progress was reported, the last with every push
    text = "\n".join(result.lines())
    assert "connections held: 20 of 20" in text and "p99" in text


def test_the_probe_counts_pushes_that_never_arrive_as_lost():
    with PushServer(behaviour=Behaviour(deliver=False)) as server:
        result = probes.run_probe(targets(server), clients=3, seconds=1, rate=6, timeouts=QUICK)
    assert result.accepted == 6 and result.delivered == 0 and result.lost == 6
    assert not result.ok
    assert "delivery latency: nothing was delivered" in result.lines()


def test_the_probe_counts_refused_pushes_and_failed_connections():
    with PushServer(behaviour=Behaviour(endpoint_status=410)) as server:
        result = probes.run_probe(targets(server), clients=2, seconds=1, rate=4, timeouts=QUICK)
    assert result.sent == 4 and result.accepted == 0
    assert list(result.refused) == [
        "HTTP 410: the subscription is gone (the store does not know the channel or the uaid)"
        "; the server said: told to fail (errno 999)"
    ]
    port = free_port()
    outputs = {"WebSocketURL": f"ws://127.0.0.1:{port}/", "EndpointURL": "http://127.0.0.1:9"}
    result = probes.run_probe(urls.from_outputs(outputs), clients=3, seconds=1, timeouts=QUICK)
    assert result.connected == 0 and result.sent == 0 and not result.ok
    assert sum(result.connect_failures.values()) == 3


def test_the_probe_refuses_an_endpoint_on_another_host():
    with PushServer(behaviour=Behaviour(endpoint_base="http://127.0.0.2:9")) as server:
        result = probes.run_probe(targets(server), clients=2, seconds=1, timeouts=QUICK)
    assert "another host" in result.refusal and result.sent == 0
    assert server.pushes == []


@pytest.mark.parametrize(
    ("clients", "seconds", "rate", "message"),
    [
        (0, 10, None, "--clients must be from 1 to 1000"),
        (1001, 10, None, "--clients must be from 1 to 1000"),
        (10, 301, None, "--seconds must be from 1 to 300"),
        (10, 0.5, None, "--seconds must be from 1 to 300"),
        (10, 10, 0, "--rate must be above 0"),
        (10, 10, 201, "at most 200"),
    ],
)
def test_the_probe_is_bounded(clients, seconds, rate, message):
    with pytest.raises(limits.ProbeLimitError, match=message):
        limits.check_limits(clients, seconds, rate)


def test_the_probe_percentiles_are_nearest_rank():
    result = probes.ProbeResult(clients=1, seconds=1, rate=1)
    result.latencies_ms = [float(n) for n in range(1, 101)]
    assert (result.percentile(50), result.percentile(95), result.percentile(99)) == (50, 95, 99)


# The command line (the outputs handed in at the function level: no URL flag exists).


def _args(*argv):
    return cli._parser().parse_args(["verify", *argv])


def test_the_command_runs_the_round_trip_against_the_stacks_outputs(capsys):
    with PushServer() as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        asked = []

        def read_outputs(name, region):
            asked.append((name, region))
            return outputs

        status = cli.verify(
            _args("push-test", "--region", "eu-west-1"), read_outputs, timeouts=QUICK
        )
    out = capsys.readouterr().out
    assert status == 0, out
    assert asked == [("push-test", "eu-west-1")]
    assert "13. ok" in out and "every step passed" in out


@pytest.mark.parametrize(("engine", "store"), [(RS, "Valkey store"), (LEGACY, "router table")])
def test_the_command_passes_the_engine_of_the_stacks_outputs_to_the_advice(capsys, engine, store):
    with PushServer(behaviour=Behaviour(endpoint_status=410)) as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        outputs |= ENGINE_OUTPUTS[engine]
        status = cli.verify(_args("push-test"), lambda *_: outputs, timeouts=QUICK)
    out = capsys.readouterr().out
    assert status == 1
    check = next(line for line in out.splitlines() if line.strip().startswith("check:"))
    assert store in check


def test_the_command_fails_with_the_failed_step(capsys):
    with PushServer(behaviour=Behaviour(endpoint_status=410)) as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        status = cli.verify(_args("push-test"), lambda *_: outputs, timeouts=QUICK)
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL Send an encrypted push" in out and "HTTP 410" in out


def test_the_command_runs_the_probe(capsys):
    with PushServer() as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        args = _args("push-test", "--clients", "4", "--seconds", "1", "--rate", "8")
        status = cli.verify(args, lambda *_: outputs, timeouts=QUICK)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "connections held: 4 of 4" in out and "8 delivered, 0 lost" in out


def test_the_command_says_what_outputs_are_missing(capsys):
    status = cli.verify(_args("push-test"), lambda *_: {"TablePrefix": "x"})
    assert status == 1
    assert "no WebSocketURL and no EndpointURL output" in capsys.readouterr().err


def test_the_command_refuses_the_sandbox_and_bounds(monkeypatch, capsys):
    monkeypatch.setenv("PUSHSTACK_TARGET", "sandbox")
    assert cli.main(["verify", "push-test"]) == 2
    assert "the sandbox runs no push servers" in capsys.readouterr().err
    assert cli.main(["verify", "push-test", "--clients", "5000"]) == 2
    assert "--clients must be from 1 to 1000" in capsys.readouterr().err
    assert cli.main(["verify", "push-test", "--websocket-url", "ws://127.0.0.1:1/"]) == 2


def test_on_a_terminal_the_probe_draws_a_progress_bar(monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with PushServer() as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        args = _args("push-test", "--clients", "2", "--seconds", "1")
        assert cli.verify(args, lambda *_: outputs, timeouts=QUICK) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[") and drawn.endswith("\n")
    assert "1.0/1 s  held 2/2  sent 2  delivered 2" in drawn
    assert "#" * 30 in drawn  # the bar full at the end


def test_without_credentials_the_command_says_why_it_is_the_sandbox(monkeypatch, capsys):
    monkeypatch.delenv("PUSHSTACK_TARGET", raising=False)
    monkeypatch.setattr("pushstack.cloud.target.has_aws_credentials", lambda: False)
    assert cli.main(["verify", "push-test"]) == 2
    assert "no AWS credentials were found, so the target is the sandbox" in capsys.readouterr().err


@pytest.mark.parametrize("probe", [False, True], ids=["round-trip", "probe"])
def test_the_command_prints_json_for_scripts(capsys, probe):
    with PushServer() as server:
        outputs = {"WebSocketURL": server.ws_url, "EndpointURL": server.endpoint_url}
        extra = ["--clients", "2", "--seconds", "1"] if probe else []
        status = cli.verify(
            _args("push-test", "--json", *extra), lambda *_: outputs, timeouts=QUICK
        )
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["ok"] is True
    assert data["websocket_url"] == server.ws_url
    if probe:
        assert data["delivered"] == 2 and data["p99_ms"] is not None
    else:
        assert len(data["steps"]) == 13


def test_the_probe_over_tls_verifies_the_certificate(tmp_path):
    cert, key = certificate(tmp_path, "127.0.0.1")
    with PushServer(tls=server_tls(cert, key)) as server:
        result = probes.run_probe(
            targets(server), clients=2, seconds=1, timeouts=QUICK, ca_file=str(cert)
        )
        assert result.ok, result.lines()
        refused = probes.run_probe(targets(server), clients=2, seconds=1, timeouts=QUICK)
    assert refused.connected == 0
    assert all("certificate" in reason for reason in refused.connect_failures)


def test_an_error_of_the_client_itself_is_reported_and_logged_not_raised(caplog):
    from pushstack.verify import failures

    error = RuntimeError("boom")
    text, check = failures.got(error, "wss://push.example/", 1)
    assert text == "an error inside pushstack's client (RuntimeError: boom)" and check is None
    assert "unexpected error while verifying push.example" in caplog.text
    assert caplog.records[0].exc_info[1] is error


def test_the_probe_benchmark_prints_its_figures(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "probe.py"
    spec = importlib.util.spec_from_file_location("probe_benchmark", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    assert benchmark.main(["--seconds", "1", "--shapes", "2x2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["clients", "rate/s"]
    assert lines[1].split()[:2] == ["2", "2"] and lines[1].split()[3:7] == ["2", "2", "2", "0"]
