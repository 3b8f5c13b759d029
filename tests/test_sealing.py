"""Issue 16 items 7 and 10: a sealed preview opens only with the browser's cookie, even
for whoever knows the secret key; guessable secrets are refused; previews are padded."""

import base64

import pytest
from conftest import KNOWN_KEY, VALID_FORM
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from webapp import create_app, settings

SECRET = "k3W9dXv2pQ7rT1yU8iO0aS5dF6gH4jK2lZ9xC3vB7nM"


def make_app(**config):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": SECRET, **config})


def token_of(client, form=VALID_FORM) -> str:
    response = client.post("/", data=form)
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


def ctr_decrypt(key: bytes, token: str) -> bytes:
    """What AES-GCM's ciphertext says under ``key`` without checking its tag (GCM is CTR
    mode plus a tag: associated data authenticates, it does not hide anything)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    nonce, ciphertext = raw[1:13], raw[13:-16]
    decryptor = Cipher(algorithms.AES(key), modes.CTR(nonce + b"\x00\x00\x00\x02")).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def test_the_secret_key_and_a_logged_address_decrypt_nothing_without_the_cookie():
    """Before, the sealing key came from the secret key alone (the session was only
    associated data): the secret and a logged address gave the crypto key."""
    client = make_app().test_client()
    token = token_of(client)
    secret_only = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"pushstack", info=b"sealed options v1"
    ).derive(SECRET.encode())
    assert KNOWN_KEY.encode() not in ctr_decrypt(secret_only, token)
    # With the cookie (its session id), the key is derived and the token opens.
    cookie = client.get_cookie("pushstack_session").value
    session = make_app().session_interface.get_signing_serializer(make_app()).loads(cookie)
    with_cookie = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"pushstack session " + session["sid"].encode(),
        info=b"sealed options v2",
    ).derive(SECRET.encode())
    assert KNOWN_KEY.encode() in ctr_decrypt(with_cookie, token)


def test_each_session_seals_with_its_own_key():
    app = make_app()
    first, second = app.test_client(), app.test_client()
    token = token_of(first)
    assert first.get(f"/preview/{token}/parameters.json").status_code == 200
    assert second.get(f"/preview/{token}/parameters.json").status_code == 404


FAMOUS = [
    "It was the best of times, it was the worst of times, it was the age of wisdom",
    "Correct-Horse-Battery-Staple-Is-A-Famous-Phrase-From-XKCD-936",
    "To be, or not to be, that is the question: Whether 'tis nobler in the mind",
    "thequickbrownfoxjumpsoverthelazydogthequickbrownfoxjumpsoverthelazydog",
    "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
    # zxcvbn prices every capital of a CamelCase phrase: lower-cased, it is plain words.
    "ThisIsMySuperSecretKeyForThePushstackWizardPleaseDontGuessIt2026",
    "THISISMYSUPERSECRETKEYFORTHEPUSHSTACKWIZARDPLEASEDONTGUESSIT2026",
    # Words cut letter by letter: without its separators, the same phrase.
    "t-h-i-s-i-s-m-y-s-u-p-e-r-s-e-c-r-e-t-k-e-y-f-o-r-t-h-e-w-i-z-a-r-d",
]


@pytest.mark.parametrize("phrase", FAMOUS)
def test_a_dictionary_phrase_is_refused_however_long(monkeypatch, phrase):
    """Each passed the old length-and-variety check."""
    assert len(phrase.rstrip("=")) * 6.5 >= 256 or len(phrase) >= 43
    monkeypatch.setenv("PUSHSTACK_SECRET_KEY", phrase)
    with pytest.raises(RuntimeError, match="too weak"):
        create_app()
    assert not settings.strong(phrase, settings.SECRET_KEY_BITS)


def test_random_secrets_of_the_suggested_commands_always_pass():
    import secrets

    for _ in range(50):
        assert settings.strong(secrets.token_urlsafe(32), settings.SECRET_KEY_BITS)
        assert settings.strong(secrets.token_hex(32), settings.SECRET_KEY_BITS)
        assert settings.strong(secrets.token_urlsafe(24), settings.ACCESS_TOKEN_BITS)


@pytest.mark.parametrize("phrase", ["CorrectHorseBatteryStaple2024", "letmeinletmeinletmein!!"])
def test_a_dictionary_access_token_is_refused(phrase):
    assert not settings.strong(phrase, settings.ACCESS_TOKEN_BITS)


# Item 10: the length of a preview's address does not tell how many keys it carries.


def test_a_preview_is_padded_so_its_length_hides_the_number_of_keys():
    client = make_app().test_client()
    lengths = set()
    for count in (1, 2, 5):
        keys = ",".join([KNOWN_KEY] + [Fernet.generate_key().decode() for _ in range(count - 1)])
        lengths.add(len(token_of(client, {**VALID_FORM, "crypto_key": keys})))
    assert len(lengths) == 1, lengths


# Item 10: the sandbox start checks who answers its port.


def test_the_sandbox_start_refuses_another_program_on_its_port(fake_aws_env):
    """Another program took the port (between the free-port check and the bind) and
    answers like moto: the start must not hand out that program as the sandbox."""
    import http.server
    import threading

    from pushstack import sandbox

    class Impostor(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match="another program answers on that port"):
            sandbox.start(port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_started_sandbox_proves_it_is_the_one_started(sandbox_server):
    from pushstack import sandbox

    assert not sandbox._answers(sandbox_server.url, "not-its-key")


# Item 10: every value in a command a page shows is shell-quoted.


def test_commands_on_the_pages_quote_every_value():
    import html
    import re
    import shlex

    from conftest import PROCESSOR_FORM

    from webapp.stacks import _removal_command

    key = "code/it's!(x)*.zip"  # what the key's pattern accepts: ! ' ( ) *
    client = make_app().test_client()
    token = token_of(client, {**PROCESSOR_FORM, "processor_code_key": key})
    page = client.get(f"/preview/{token}").get_data(as_text=True)
    found = re.search(r'<code id="processor-upload">(.*?)</code>', page, re.S)
    assert found, "the upload command is shown"
    words = shlex.split(html.unescape(found.group(1)))
    assert words[:3] == ["aws", "s3", "cp"] and words[-1] == f"s3://my-processor-code/{key}"
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        command = _removal_command(kind, "odd name;$(id)")
        assert any(word.endswith("odd name;$(id)") for word in shlex.split(command)), kind


# Values already quoted where they are made (webapp.stacks, pushstack.cloud.target).
QUOTED_WHERE_MADE = {"target.cli_environment", "where", "endpoint_flag", "item.command"}


def test_every_value_in_a_command_of_a_template_goes_through_the_shell_filter():
    """``pushstack verify {{ stack.name }} --region ...`` printed its values unquoted."""
    import re
    from pathlib import Path

    templates = Path(__file__).parent.parent / "templates"
    unquoted, commands = [], 0
    for template in sorted(templates.glob("*.html")):
        for code in re.findall(r"<code[^>]*>(.*?)</code>", template.read_text(), re.S):
            words = re.sub(r"\{\{\s*target\.cli_environment\s*\}\}", "", code).split()
            if not words or words[0] not in ("aws", "pushstack"):
                continue
            commands += 1
            for value in re.findall(r"\{\{(.*?)\}\}", code, re.S):
                value = value.strip()
                if value not in QUOTED_WHERE_MADE and not re.search(r"\|\s*shell$", value):
                    unquoted.append(f"{template.name}: {{{{ {value} }}}}")
    assert commands >= 4
    assert unquoted == []


def test_the_verify_command_on_the_stack_page_quotes_its_values(monkeypatch):
    import html
    import re
    import shlex
    import types

    from flask import render_template

    from webapp import verify

    monkeypatch.setattr(verify, "is_sandbox", lambda: False)
    app = make_app()
    stack = types.SimpleNamespace(name="odd name;$(id)", status="CREATE_COMPLETE")
    target = types.SimpleNamespace(region="eu-west-1")
    with app.test_request_context("/stacks/x"):
        page = render_template("_verify.html", stack=stack, region=None, target=target)
    found = re.search(r"<code>(pushstack verify .*?)</code>", page, re.S)
    assert found, "the verify command is shown"
    words = shlex.split(html.unescape(found.group(1)))
    assert words[:4] == ["pushstack", "verify", "odd name;$(id)", "--region"]
    assert words[4] == "eu-west-1"
