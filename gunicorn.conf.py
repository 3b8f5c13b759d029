"""How gunicorn serves the wizard (scripts/serve; any `gunicorn wsgi:app` run here reads it).

The start command owns the bind address and the secret key: before any worker
starts, ``on_starting`` writes what gunicorn really binds (PUSHSTACK_BIND) and
whether it speaks TLS (PUSHSTACK_TLS) for the app's start-up guard, makes one
secret key for all workers when serving only this machine, starts the one
sandbox all workers share when the target is the sandbox, and renders the
common previews into the folders the workers share (PUSHSTACK_PREVIEW_WARM=0: not).
"""

import os

import gunicorn.http.wsgi

from webapp import logs

_host = os.environ.get("PUSHSTACK_HOST", "127.0.0.1")
_port = os.environ.get("PUSHSTACK_PORT", "5000")
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("PUSHSTACK_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("PUSHSTACK_THREADS", "4"))
timeout = 120  # a cold preview lints the template; launches wait on AWS
# A preview URL carries its sealed options: let long ones through (gunicorn's maximum).
limit_request_line = 8190
# Forwarded headers are the app's business, and only from proxies named in
# PUSHSTACK_TRUSTED_PROXIES (webapp.auth): gunicorn trusts none itself.
forwarded_allow_ips = ""
# gunicorn's control socket (one path per user) is not used: several wizards would share it.
control_socket_disable = True
accesslog = os.environ.get("PUSHSTACK_ACCESS_LOG", "-")
# No query strings in the access log: they may hold share-link values; never the key.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(D)sus pid=%(p)s'

# A preview's address carries its options sealed with the secret key, crypto key included:
# every log line of the master and the workers (access log, gunicorn's DEBUG "GET /path",
# its "Error handling request", Flask's exception log) goes through one redaction,
# webapp.logs.redact: a token's first characters only, no query string, no key.
logs.install()

_sandbox = None


def on_starting(server):
    """Runs once in the master, before workers fork: everything here they inherit."""
    global _sandbox
    from flask import Config

    from webapp import settings

    cfg = server.cfg
    os.environ["PUSHSTACK_BIND"] = ",".join(_address(address) for address in cfg.address)
    os.environ["PUSHSTACK_TLS"] = "true" if cfg.certfile and cfg.keyfile else "false"
    config = Config(os.getcwd())
    settings.load(config)  # a SettingsError (a RuntimeError): gunicorn prints it and exits
    # Served only here, without a key of its own: the one made by load, for every worker
    # (a restart makes a new one, which only asks for a new form).
    if not os.environ.get("PUSHSTACK_SECRET_KEY"):
        os.environ["PUSHSTACK_SECRET_KEY"] = config["SECRET_KEY"]

    from pushstack import cloud

    if cloud.needs_sandbox():
        from pushstack import sandbox

        _sandbox = sandbox.start()
        os.environ["PUSHSTACK_SANDBOX_URL"] = _sandbox.url
        server.log.info("Sandbox (moto) for all workers on %s", _sandbox.url)
    _warm_previews(server)


def _warming() -> bool:
    """Unless turned off, or the previews are not shared (each worker would render anyway)."""
    shared = os.environ.get("PUSHSTACK_PREVIEW_SHARED_DIR")
    return os.environ.get("PUSHSTACK_PREVIEW_WARM", "1") != "0" and shared != ""


def _warm_previews(server):
    """Render the common previews (and their cfn-lint findings) into the folders the
    workers share, before they serve: no slow first minute (webapp/warm.py). In a process
    of its own, so the master forks its workers with no thread of ours running."""
    if not _warming():
        return
    import subprocess
    import sys
    import time

    started = time.monotonic()
    try:
        subprocess.run([sys.executable, "-m", "webapp.warm"], timeout=180, check=False)
    except subprocess.TimeoutExpired:
        server.log.warning("The preview warm-up took over 180 s: the workers start without it")
    server.log.info("Previews warmed in %.1f s", time.monotonic() - started)


def post_worker_init(worker):
    """Before a worker serves: its pages compiled, the target read, the shared previews loaded."""
    if not _warming():
        return
    from webapp import warm

    try:
        warm.warm(worker.wsgi, wait_for_lint=False)
    except Exception as exc:  # never keep a worker from serving
        worker.log.warning("Worker warm-up skipped: %s", exc)


def on_exit(server):
    if _sandbox is not None:
        _sandbox.stop()


def _address(address) -> str:
    """A bound address as text: "127.0.0.1:5000", "[::1]:5000", "unix:/path" or "fd://3"."""
    if isinstance(address, tuple):
        host, port = address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(address, int):
        return f"fd://{address}"
    return f"unix:{address}"


# No "Server: gunicorn" header (issue 8): gunicorn has no setting for it.
_default_headers = gunicorn.http.wsgi.Response.default_headers


def _without_server_header(self):
    return [line for line in _default_headers(self) if not line.startswith("Server:")]


gunicorn.http.wsgi.Response.default_headers = _without_server_header
