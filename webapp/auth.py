"""Who may use the wizard: trusted host names, same-origin changes, and the access token.

Checked before anything else on every request, in this order:
1. the Host header names the wizard (Flask's TRUSTED_HOSTS: no DNS rebinding);
2. on loopback, the peer is this machine (whatever server runs the app);
3. a state-changing request comes from the wizard's own pages (Origin, else Referer);
4. with PUSHSTACK_ACCESS_TOKEN, the browser signed in (or an API call gives the
   token as ``Authorization: Bearer``), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import HiddenField, PasswordField

from webapp import shared, store

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

_SIGNED_IN = "access"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# What a proxy adds (browsers never send these): on loopback, the sign of an unnamed proxy.
_FORWARDED = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")
# Reachable without the token: the sign-in page and what it needs to look right.
_OPEN_ENDPOINTS = ("static", "auth.signin", "auth.check_token", "preview.highlight_css")


class SignInForm(FlaskForm):
    token = PasswordField(
        "Access token",
        description="The PUSHSTACK_ACCESS_TOKEN the wizard was started with.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True},
        id="token",
    )
    next = HiddenField()


def init_app(app) -> None:
    """Register the checks; call before CSRFProtect so that they run first."""
    for check in (_trusted_host, _local_peer, _same_origin, _access):
        app.before_request(check)
    app.register_blueprint(bp)
    app.context_processor(_template_values)
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = FromNamedProxies(app.wsgi_app, app.config["TRUSTED_PROXIES"])


def _template_values() -> dict:
    """For the header's sign-out button."""
    return {"signed_in": bool(current_app.config["ACCESS_TOKEN"]) and signed_in()}


def _trusted_host():
    # Flask found the Host untrusted while routing; stop before any other check runs.
    if isinstance(request.routing_exception, SecurityError):
        raise request.routing_exception


def _local_peer():
    """Served for this machine only, the wizard answers nobody else, however it was started."""
    refusal = peer_refusal()
    if refusal:
        abort(403, refusal)
    return None


def peer_refusal() -> str | None:
    """Why the peer may not use a wizard served for this machine only, or None."""
    if current_app.config["EXPOSED"] or not request.remote_addr:
        return None
    if any(name in request.headers for name in _FORWARDED):
        # A proxy on this machine relays others' requests: it must be named, which
        # brings the access token, TLS and host names with it.
        return (
            "A proxy forwards requests to this wizard, but it was started for this machine "
            "only. Name the proxy in PUSHSTACK_TRUSTED_PROXIES and follow the Security "
            "section of its README (access token, TLS, trusted hosts)."
        )
    if not _is_loopback(request.remote_addr):
        return (
            "This wizard serves only the machine it runs on. To serve it to others, "
            "follow the Security section of its README (access token, TLS, trusted hosts)."
        )
    return None


def _same_origin():
    """A form on another site (or another port of this machine) cannot post here, and its
    pages cannot make the wizard read AWS either (``<img src=/api/stacks/...>`` loops)."""
    if request.method not in _SAFE_METHODS:
        source = request.headers.get("Origin")
        if source is None and request.referrer:
            source = origin_of(request.referrer)
        if source is not None and source != own_origin():
            abort(
                403,
                "This request came from another site, not from the wizard's own pages. "
                "Open the wizard and use its form.",
            )
        return None
    if request.endpoint is None or request.endpoint in _OPEN_ENDPOINTS:
        return None
    if cross_site_get():
        if request.path.startswith("/api/"):
            return jsonify(
                error=CROSS_SITE_GET, advice="Call it from a script, or the wizard's own pages."
            ), 403
        abort(403, CROSS_SITE_GET)
    return None


CROSS_SITE_GET = (
    "Another site (or a page of another program on this machine) asked for this page, so "
    "the wizard did not open it: its pages read your AWS account. If you followed a link, "
    "open the wizard yourself (type its address) and go to the page from there."
)


def cross_site_get() -> bool:
    """Whether the browser says a GET comes from another origin: Sec-Fetch-Site (sent by
    every current browser), else Origin, else Referer. A typed address ("none") and the
    wizard's own pages ("same-origin") pass; "same-site" is another port of this machine."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() not in ("same-origin", "none")
    source = request.headers.get("Origin")
    if source is None and request.referrer:
        source = origin_of(request.referrer)
    return source is not None and source != own_origin()


def own_origin() -> str:
    return f"{request.scheme}://{request.host}"


def origin_of(url: str) -> str:
    """The origin of a Referer, or a value that matches no origin when it is malformed
    (issue 16 item 6: an unparsable Referer was a 500 on every POST)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return "malformed"
    if not parts.scheme or not parts.netloc:
        return "malformed"
    return f"{parts.scheme}://{parts.netloc}"


def _access():
    token = current_app.config["ACCESS_TOKEN"]
    if not token or request.endpoint in _OPEN_ENDPOINTS or signed_in():
        return None
    if request.path.startswith("/api/"):
        given = _bearer()
        if given is not None:
            # Counted with the sign-in form's wrong tokens (issue 16: guesses were free
            # here); past the bound even the right token waits, unseen.
            too_many = _too_many_attempts("try again")
            if too_many:
                response = jsonify(
                    error=too_many,
                    advice="Check the token the script sends: PUSHSTACK_ACCESS_TOKEN of the wizard.",
                )
                return response, 429, {"Retry-After": str(shared.WINDOW_SECONDS)}
            if hmac.compare_digest(given.encode(), token.encode()):
                return None
            _count_wrong_token("an Authorization: Bearer header")
        response = jsonify(error="Give the access token as 'Authorization: Bearer <token>'.")
        return response, 401, {"WWW-Authenticate": 'Bearer realm="pushstack"'}
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.signin", next=target), code=303)


def signed_in() -> bool:
    token = current_app.config["ACCESS_TOKEN"]
    if not token:
        return True
    if "signed_in" not in g:
        # The cookie's proof of sign-in, and the session's record (shared by the workers):
        # signed out, idle or too old, a copied cookie opens nothing (issue 16 item 3).
        g.signed_in = hmac.compare_digest(
            session.get(_SIGNED_IN, ""), _fingerprint(token)
        ) and shared.session_alive(store.session_id())
    return g.signed_in


def _bearer() -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None when there is none."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return given.strip()


def _fingerprint(token: str) -> str:
    """What the session keeps: proof of sign-in with this token (a new token signs all out)."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"access " + token.encode(), hashlib.sha256).hexdigest()


@bp.get("/signin")
def signin():
    form = SignInForm(formdata=None, next=_safe_next(request.args.get("next")))
    return render_template("signin.html", form=form, wrong=False)


@bp.post("/signin")
def check_token():
    form = SignInForm()
    token = current_app.config["ACCESS_TOKEN"]
    if not token:
        return redirect(url_for("wizard.form"), code=303)
    too_many = _too_many_attempts()
    if too_many:
        form.token.data = ""
        page = render_template("signin.html", form=form, wrong=False, too_many=too_many)
        return page, 429, {"Retry-After": str(shared.WINDOW_SECONDS)}
    if not form.validate_on_submit():
        return render_template("signin.html", form=form, wrong=False), 400
    if not hmac.compare_digest((form.token.data or "").strip().encode(), token.encode()):
        _count_wrong_token("the sign-in form")
        form.token.data = ""
        return render_template("signin.html", form=form, wrong=True), 401
    # A new session: nothing of a session planted before sign-in carries over.
    session.clear()
    store.start_session()
    session[_SIGNED_IN] = _fingerprint(token)
    shared.start_session(store.session_id())
    g.pop("signed_in", None)
    return redirect(_safe_next(form.next.data) or url_for("wizard.form"), code=303)


@bp.post("/signout")
def signout():
    if session.get(store.SESSION_ID):
        shared.end_session(session[store.SESSION_ID])  # for every copy of the cookie
    session.clear()
    store.start_session()
    g.pop("signed_in", None)
    return redirect(url_for("auth.signin"), code=303)


_FAILED = "failed sign-in "


def _count_wrong_token(where: str) -> None:
    """One wrong access token, from the sign-in form or a bearer header: per address and
    overall, the same counters for both. The log names the address, never the token."""
    shared.hit(_FAILED + (request.remote_addr or "?"))
    shared.hit(_FAILED + "overall")
    log.warning("Wrong access token in %s from %s", where, request.remote_addr)


def _too_many_attempts(then: str = "sign in again") -> str | None:
    """Why this attempt (sign-in form or bearer token) is refused unseen (the right token
    included, or the refusal would not slow a guesser down): too many wrong tokens from
    this address, or from everywhere (a guesser with many addresses), in the current minute."""
    config = current_app.config
    per_client = int(config["SIGNIN_ATTEMPTS_PER_MINUTE"] or 0)
    overall = int(config["SIGNIN_ATTEMPTS_PER_MINUTE_OVERALL"] or 0)
    mine = shared.count(_FAILED + (request.remote_addr or "?"))
    everyone = shared.count(_FAILED + "overall")
    if per_client and mine >= per_client:
        return (
            f"Too many wrong access tokens from this address ({per_client} in a minute). "
            f"Wait a minute, then {then}."
        )
    if overall and everyone >= overall:
        return (
            f"Too many wrong access tokens for this wizard ({overall} in a minute, from all "
            f"addresses together). Wait a minute, then {then}."
        )
    return None


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site: no redirect elsewhere through the sign-in page."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None  # CR/LF would break the Location header; no real path has these
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _is_loopback(address: str) -> bool:
    try:
        peer = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(peer, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return (mapped or peer).is_loopback


class FromNamedProxies:
    """Werkzeug's ProxyFix, applied only to requests whose peer is a named proxy."""

    def __init__(self, app, proxies: list[str]):
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1)
        self.networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]

    def __call__(self, environ, start_response):
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            peer = None
        if peer is not None and any(peer in network for network in self.networks):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
