"""The wizard's settings: defaults, then PUSHSTACK_* environment variables, then a test dict.

Also the guard for serving beyond this machine. The start command (gunicorn
with ``gunicorn.conf.py``) writes what it really binds into PUSHSTACK_BIND
and whether it speaks TLS into PUSHSTACK_TLS before any worker starts; off
loopback (or behind a proxy, which is the same thing) the wizard then refuses
to start without a strong secret key, an access token, TLS and the host names
it is reached by.
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import os
import re
import secrets
import string

DEFAULTS = {
    "PREVIEW_TTL_SECONDS": 30 * 60,
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session cookie
    # Flask-WTF's own Referer check over HTTPS: the Origin check of webapp.auth
    # (Origin, else Referer, over HTTP too) takes its place.
    "WTF_CSRF_SSL_STRICT": False,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "ACCESS_TOKEN": "",
    "TRUSTED_PROXIES": "",
    "BIND": "",
    "TLS": False,
    # Issue 16 item 4: AWS calls one client (browser session, else address) may cause.
    "AWS_CALLS_PER_MINUTE": 300,
    "STATE_DIR": "",  # where the workers' shared SQLite file goes (webapp.shared)
    # Issue 16 item 3: a signed-in session ends when unused this long, or this long after
    # sign-in, whatever the cookie says; wrong sign-in tokens per address and in all.
    "SESSION_IDLE_SECONDS": 12 * 3600,
    "SESSION_LIFETIME_SECONDS": 7 * 24 * 3600,
    "SIGNIN_ATTEMPTS_PER_MINUTE": 10,
    "SIGNIN_ATTEMPTS_PER_MINUTE_OVERALL": 60,
}

# Read from the environment as written: from_prefixed_env would parse "1234" as a number.
RAW_STRINGS = (
    "SECRET_KEY",
    "ACCESS_TOKEN",
    "TRUSTED_HOSTS",
    "TRUSTED_PROXIES",
    "BIND",
    "STATE_DIR",
)

# What the Host header may say by default (any port). Werkzeug cannot match IPv6
# literals, so a wizard reached as [::1] needs a name such as localhost.
DEFAULT_TRUSTED_HOSTS = ("127.0.0.1", "localhost")
SECRET_KEY_BITS = 256
ACCESS_TOKEN_BITS = 128
HOW_TO_MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 (a command, not a secret)

COOKIE_NAME = "pushstack_session"


class SettingsError(RuntimeError):
    """Settings the wizard cannot start with; the message says what to set."""


def load(config, test_config: dict | None = None) -> None:
    """Fill a Flask ``config``; raises ``SettingsError`` naming every problem at once."""
    environ = os.environ
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env(prefix="PUSHSTACK")
    for name in RAW_STRINGS:
        if f"PUSHSTACK_{name}" in environ:
            config[name] = environ[f"PUSHSTACK_{name}"]
    if test_config:
        config.from_mapping(test_config)

    config["BIND"] = _items(config.get("BIND"))
    config["TRUSTED_PROXIES"] = _items(config.get("TRUSTED_PROXIES"))
    hosts_given = config.get("TRUSTED_HOSTS") is not None
    config["TRUSTED_HOSTS"] = _items(config.get("TRUSTED_HOSTS")) or list(DEFAULT_TRUSTED_HOSTS)
    config["TRUSTED_HOSTS"] = [_bare_host(host) for host in config["TRUSTED_HOSTS"]]
    exposed = is_exposed(config["BIND"], config["TRUSTED_PROXIES"])
    tls = bool(config.get("TLS")) or bool(config["TRUSTED_PROXIES"])
    config["EXPOSED"], config["TLS"] = exposed, tls

    problems = []
    secret = config.get("SECRET_KEY")
    from_environment = "PUSHSTACK_SECRET_KEY" in environ
    if secret is not None and not isinstance(secret, str | bytes):
        problems.append("SECRET_KEY must be a string.")
    elif secret and (exposed or from_environment) and not strong(secret, SECRET_KEY_BITS):
        problems.append(
            "PUSHSTACK_SECRET_KEY is too weak: give at least 32 random bytes, for "
            f"example what `{HOW_TO_MAKE_A_SECRET}` prints."
        )
    for proxy in config["TRUSTED_PROXIES"]:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(
                f"PUSHSTACK_TRUSTED_PROXIES: {proxy!r} is not an IP address or network."
            )
    token = config.get("ACCESS_TOKEN") or ""
    if isinstance(token, str):
        token = config["ACCESS_TOKEN"] = token.strip()  # e.g. read from a file with its newline
    if not isinstance(token, str):
        problems.append("ACCESS_TOKEN must be a string.")
    elif token and not strong(token, ACCESS_TOKEN_BITS):
        problems.append(
            "PUSHSTACK_ACCESS_TOKEN is too weak: give at least 16 random bytes, for "
            "example what `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'` prints."
        )
    if exposed:
        where = ", ".join(config["BIND"]) or "behind the proxy " + ", ".join(
            config["TRUSTED_PROXIES"]
        )
        if not secret:
            problems.append(
                "Set PUSHSTACK_SECRET_KEY (the same for every process): sessions, form "
                f"tokens and sealed previews depend on it. Make one with `{HOW_TO_MAKE_A_SECRET}`."
            )
        if not token:
            problems.append(
                "Set PUSHSTACK_ACCESS_TOKEN: whoever reaches the wizard can launch stacks "
                "with its AWS credentials; the token is asked for on a sign-in page."
            )
        if not tls:
            problems.append(
                "Serve with TLS: give gunicorn --certfile and --keyfile, or run it behind "
                "a TLS proxy named in PUSHSTACK_TRUSTED_PROXIES (its IP addresses)."
            )
        if not hosts_given:
            problems.append(
                "Set PUSHSTACK_TRUSTED_HOSTS to the host names the wizard is reached by "
                "(comma-separated), so that no other name (DNS rebinding) is answered."
            )
        if problems:
            problems.insert(0, f"The wizard serves beyond this machine ({where}):")
    if problems:
        raise SettingsError("\n  ".join(problems))

    if not secret:
        # Loopback only: a fresh key per process (scripts/serve exports one for all its
        # workers); a restart only asks for a new form.
        config["SECRET_KEY"] = secrets.token_urlsafe(32)
    # Flask's signed cookie is refused past the absolute lifetime too (its default: 31 days).
    config["PERMANENT_SESSION_LIFETIME"] = datetime.timedelta(
        seconds=float(config["SESSION_LIFETIME_SECONDS"])
    )
    if config.get("SESSION_COOKIE_NAME", "session") == "session":  # Flask's, shared by every app
        config["SESSION_COOKIE_NAME"] = COOKIE_NAME
    if tls:
        config["SESSION_COOKIE_SECURE"] = True
        if not config["SESSION_COOKIE_NAME"].startswith("__Host-"):
            config["SESSION_COOKIE_NAME"] = "__Host-" + config["SESSION_COOKIE_NAME"]
        config["PREFERRED_URL_SCHEME"] = "https"


def is_exposed(bind: list[str], trusted_proxies: list[str]) -> bool:
    """Whether anyone but this machine can reach the wizard: a non-loopback bind, or a proxy."""
    return bool(trusted_proxies) or any(not is_loopback_bind(address) for address in bind)


def is_loopback_bind(address: str) -> bool:
    """A gunicorn bind address ("host:port", "[::1]:port", "unix:PATH") reachable only locally."""
    if address.startswith("unix:"):
        return True  # a file only local processes open (a proxy in front must be named)
    if address.startswith("fd://"):
        return False  # inherited: where it listens is not known
    host = address
    if host.startswith("["):
        host = host[1 : host.index("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def strong(value: str | bytes, bits: int) -> bool:
    """Whether a secret given as text holds ``bits`` random bits: its length and alphabet
    could (hex, base64 or any text), and zxcvbn finds no words, names, keyboard walks,
    sequences or repeats that make it guessable (issue 16 item 7: a famous phrase passed
    a length-and-variety check)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if len(set(text)) < 8:
        return False  # "aaaa...", "abababab...": long but guessable
    per_char = _bits_per_character(text)
    if len(text.rstrip("=")) * per_char < bits:
        return False
    # zxcvbn's patterns cost what it says they do; what it calls brute force keeps the
    # alphabet's bits (zxcvbn counts 10 guesses a character, far too few for base64).
    # Random text has short accidental matches: three quarters of the bits suffice.
    return estimated_bits(text, per_char) >= bits * 3 / 4


def _bits_per_character(text: str) -> float:
    if all(c in string.hexdigits for c in text):
        return 4
    if re.fullmatch(r"[A-Za-z0-9_\-+/=]+", text):
        return 6
    return math.log2(95)


ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer text: longer pieces are read in parts
SEPARATOR_CHOICES = 33  # space and punctuation


def estimated_bits(text: str, per_char: float) -> float:
    """Bits an attacker who guesses words and patterns first must cover: the cheapest of
    zxcvbn's readings of the text as given and lower-cased plus where its capitals go
    (zxcvbn reads much of a CamelCase phrase, "ThisIsMy...", as random letters), each
    read whole (repeats, sequences), word by word (zxcvbn misses words between
    separators) and with its separators taken out ("t-h-i-s..."). A separator costs its
    choice once, then a bit each time it comes again."""
    bits = _readings_bits(text, per_char)
    lowered = text.lower()
    if lowered != text:
        # Where the capitals go, guessed by one who knows the words: a bit for each
        # capital (or each small letter, in capitals), one for which of the two.
        upper = sum(char.isupper() for char in text)
        case_bits = min(upper, sum(char.islower() for char in text)) + 1
        bits = min(bits, _readings_bits(lowered, per_char) + case_bits)
    return bits


def _readings_bits(text: str, per_char: float) -> float:
    words, separator_bits, separators = [], 0.0, set()
    for index, part in enumerate(re.split(r"([^A-Za-z0-9]+)", text)):
        if not part:
            continue
        if index % 2:  # the separator between two words
            separator_bits += 1 if part in separators else math.log2(SEPARATOR_CHOICES) * len(part)
            separators.add(part)
        else:
            words.append(part)
    whole = _pattern_bits(text, per_char)
    if not separators:
        return whole
    word_by_word = sum(_pattern_bits(word, per_char) for word in words)
    joined = _pattern_bits("".join(words), per_char)
    return min(whole, separator_bits + min(word_by_word, joined))


def _pattern_bits(text: str, per_char: float) -> float:
    """zxcvbn's cheapest reading of ``text``, its brute-force parts at ``per_char``."""
    from zxcvbn import zxcvbn

    total = 0.0
    for start in range(0, len(text), ZXCVBN_MAX_LENGTH):
        for match in zxcvbn(text[start : start + ZXCVBN_MAX_LENGTH])["sequence"]:
            brute_force = len(match["token"]) * per_char
            if match["pattern"] == "bruteforce":
                total += brute_force
            else:
                total += min(brute_force, math.log2(max(float(match["guesses"]), 1.0)))
    return total


def _items(value) -> list[str]:
    """A list setting from a list, or from text separated by commas or spaces."""
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    return [str(item).strip() for item in value if str(item).strip()]


def _bare_host(host: str) -> str:
    """A trusted host without its port (Werkzeug ignores ports): "[::1]:5000" -> "[::1]"."""
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    if host.count(":") > 1:
        return f"[{host}]"  # a bare IPv6 address, as a Host header writes it
    return host
