"""Where stacks go: a real AWS account or the sandbox (moto's server on 127.0.0.1)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from pushstack.cloud.errors import CloudError, translate

DEFAULT_REGION = "us-east-1"
KINDS = ("auto", "aws", "sandbox")
# The sandbox accepts any credentials; these never reach AWS.
SANDBOX_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# Standard retry mode: exponential backoff with jitter on throttling and
# transient errors; after the last attempt the error becomes a CloudError.
MAX_ATTEMPTS = 5  # in all, the first try included
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=60,
)


@dataclass(frozen=True)
class Target:
    """A live target: ``kind`` is "aws" or "sandbox"; ``endpoint_url`` is None for AWS."""

    kind: str
    region: str
    account_id: str
    endpoint_url: str | None
    session: boto3.Session = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """What the page header says, e.g. "AWS account 123456789012"."""
        if self.kind == "sandbox":
            where = urlsplit(self.endpoint_url or "").netloc or self.endpoint_url
            return f"Sandbox (moto on {where})"
        return f"AWS account {self.account_id}"

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    @property
    def cli_environment(self) -> str:
        """What an ``aws`` command pasted in a shell needs in front to reach this target: the
        sandbox's dummy credentials (a shell may have none, or real ones); nothing for AWS."""
        if not self.is_sandbox:
            return ""
        return (
            f"AWS_ACCESS_KEY_ID={SANDBOX_CREDENTIALS['aws_access_key_id']} "
            f"AWS_SECRET_ACCESS_KEY={SANDBOX_CREDENTIALS['aws_secret_access_key']} "
        )

    def client(self, service: str, region: str | None = None):
        """A boto3 client of this target, with standard retries (and path-style S3 in the sandbox)."""
        config = CLIENT_CONFIG
        if self.kind == "sandbox" and service == "s3":
            config = config.merge(Config(s3={"addressing_style": "path"}))
        return self.session.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            config=config,
        )


def _kind_from_env(kind: str | None) -> str:
    kind = (kind or os.environ.get("PUSHSTACK_TARGET") or "auto").strip().lower()
    if kind not in KINDS:
        raise CloudError(
            f"PUSHSTACK_TARGET is {kind!r}, which is not a target.",
            "Set it to auto, aws or sandbox.",
        )
    return kind


def default_region(region: str | None = None) -> str:
    return (
        region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION
    )


def has_aws_credentials() -> bool:
    """Whether the ordinary credential chain (env, profile, SSO, instance role) finds credentials."""
    try:
        return boto3.Session().get_credentials() is not None
    except Exception:  # a broken profile counts as no credentials; the aws target says why
        return False


def chosen_kind(kind: str | None = None) -> str:
    """ "aws" or "sandbox": PUSHSTACK_TARGET, with auto resolved by the credential chain."""
    kind = _kind_from_env(kind)
    if kind == "auto":
        return "aws" if has_aws_credentials() else "sandbox"
    return kind


def needs_sandbox() -> bool:
    """Whether the target is the sandbox and no PUSHSTACK_SANDBOX_URL names a running one.

    Start-up code (the gunicorn hook) then starts one and exports its URL.
    """
    return chosen_kind() == "sandbox" and not os.environ.get("PUSHSTACK_SANDBOX_URL")


def resolve_target(
    kind: str | None = None, region: str | None = None, sandbox_url: str | None = None
) -> Target:
    """The target named by the arguments, else PUSHSTACK_TARGET / PUSHSTACK_SANDBOX_URL / AWS_REGION.

    For the sandbox without a URL, one sandbox per process is started (and
    stopped at exit). Raises ``CloudError`` when the credentials do not work.
    """
    kind = chosen_kind(kind)
    region = default_region(region)
    if kind == "sandbox":
        url = sandbox_url or os.environ.get("PUSHSTACK_SANDBOX_URL")
        if not url:
            from pushstack import sandbox

            url = sandbox.shared().url
        session = boto3.Session(region_name=region, **SANDBOX_CREDENTIALS)
        target = Target("sandbox", region, "", url.rstrip("/"), session)
    else:
        try:
            session = boto3.Session(region_name=region)
        except Exception as exc:
            raise translate(exc) from exc
        target = Target("aws", region, "", None, session)
    try:
        identity = target.client("sts").get_caller_identity()
    except Exception as exc:
        raise translate(exc, "GetCallerIdentity", target.endpoint_url) from exc
    return Target(kind, region, identity["Account"], target.endpoint_url, session)
