"""Every AWS or botocore failure as a ``CloudError``: what happened and what to do."""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.parsers import ResponseParserError

# A Fernet key, wherever an error message might quote a parameter value back.
_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


def scrub(text: str) -> str:
    """The text with anything shaped like a crypto key masked."""
    return _FERNET_KEY.sub("****", text)


class CloudError(Exception):
    """An AWS call that did not work, in plain words.

    ``message`` says what happened, ``advice`` what to do about it, ``code``
    is AWS's error code (or None when the call never got an answer).
    """

    def __init__(self, message: str, advice: str = "", code: str | None = None):
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.advice = advice
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} {self.advice}".strip()


EXPIRED_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Forbidden",
    "403",
}
THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
    "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException",
}
NOT_FOUND_CODES = {"NoSuchBucket", "NoSuchKey", "404", "NotFound"}

CREDENTIALS_ADVICE = (
    "Give AWS credentials the usual way (AWS_PROFILE, `aws configure`, `aws sso login`, "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or use the sandbox (PUSHSTACK_TARGET=sandbox)."
)


def _denied_action(message: str) -> str | None:
    """The action AWS names in an access-denied message, e.g. ``cloudformation:CreateStack``."""
    match = re.search(r"perform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)", message)
    return match.group(1) if match else None


def from_client_error(exc: ClientError, operation: str = "") -> CloudError:
    """A ``CloudError`` for an error answer from AWS."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    text = str(error.get("Message") or "").strip()
    operation = operation or getattr(exc, "operation_name", "") or ""
    lower = text.lower()

    if code in EXPIRED_CODES:
        return CloudError(
            "AWS did not accept the credentials: they are expired, revoked or for another "
            f"account ({code}).",
            "Refresh them (e.g. `aws sso login`, or new temporary credentials) and try again.",
            code,
        )
    if code in DENIED_CODES or "not authorized to perform" in lower:
        action = _denied_action(text) or (f"{operation}" if operation else "this operation")
        return CloudError(
            f"Access denied: these credentials may not call {action}.",
            f"Ask your AWS administrator to allow {action} for this user or role, "
            "or use credentials that may.",
            code,
        )
    if code in THROTTLING_CODES or "rate exceeded" in lower:
        return CloudError(
            "AWS is throttling requests (too many calls in a short time); retrying did not help.",
            "Wait a minute and try again.",
            code,
        )
    if code == "AlreadyExistsException" or "already exists" in lower:
        return CloudError(
            f"That name is taken: {text or 'a resource of this name already exists'}",
            "Choose another stack name, or open the existing stack from the stacks list.",
            code,
        )
    if code == "InsufficientCapabilitiesException" or "requires capabilities" in lower:
        return CloudError(
            f"The template creates IAM resources and needs your acknowledgement: {text}",
            "Tick the acknowledgement of the IAM resources and launch again.",
            code,
        )
    if code == "NoSuchHostedZone":
        return CloudError(
            f"The Route 53 hosted zone does not exist: {text or 'no such hosted zone'}",
            "Check the hosted zone id (a public zone of this account, e.g. Z0123456789ABC), "
            "or leave it empty and create the DNS records yourself.",
            code,
        )
    if code in ("NoSuchBucket",) or (code == "404" and "bucket" in lower):
        return CloudError(
            f"The S3 bucket does not exist: {text or 'no such bucket'}",
            "Check the bucket name and the region, or create the bucket first.",
            code,
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return CloudError(
            f"The S3 object does not exist: {text or 'no such key'}",
            "Check the key (path) inside the bucket, or upload the file first.",
            code,
        )
    if code == "TokenAlreadyExistsException":
        return CloudError(
            "This launch was already submitted with another request.",
            "Open the stacks list: the stack is there.",
            code,
        )
    if code == "LimitExceededException":
        return CloudError(
            f"An AWS account limit was reached: {text}",
            "Delete stacks or resources you no longer need, or ask AWS for a higher quota.",
            code,
        )
    if code == "ValidationError" and "does not exist" in lower:
        return CloudError(
            f"Not found: {text}",
            "Check the name and the region; it may have been deleted.",
            code,
        )
    if code == "ValidationError" and "no updates are to be performed" in lower:
        return CloudError(
            "Nothing to update: the stack already has these values.",
            "Change an option, or a version, and try again.",
            code,
        )
    if code.startswith("NoSuch") or code.endswith(("NotFound", "NotFoundException")):
        return CloudError(
            f"Something the stack refers to does not exist ({code}): {text}",
            "Check the value of the form that names it (an id, a name or an ARN), and the region.",
            code,
        )
    if code in ("ValidationError", "InvalidParameterValue", "InvalidParameterCombination"):
        return CloudError(
            f"AWS refused the request as invalid: {text}",
            "Correct the value named above and try again.",
            code,
        )
    return CloudError(
        f"AWS returned an error{f' to {operation}' if operation else ''}: "
        f"{code}{': ' + text if text else ''}",
        "Try again; if it keeps failing, check the AWS console or AWS Health.",
        code,
    )


def translate(exc: Exception, operation: str = "", endpoint: str | None = None) -> CloudError:
    """A ``CloudError`` for any exception raised by boto3 or botocore."""
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, ClientError):
        return from_client_error(exc, operation)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CloudError("No AWS credentials were found.", CREDENTIALS_ADVICE)
    if isinstance(exc, ProfileNotFound):
        return CloudError(f"{exc}.", "Check AWS_PROFILE against your ~/.aws/config.")
    if isinstance(exc, TokenRetrievalError | UnauthorizedSSOTokenError | SSOTokenLoadError):
        return CloudError(
            "The AWS sign-in (SSO) session has expired.",
            "Run `aws sso login` (with your profile) and try again.",
            "ExpiredToken",
        )
    if isinstance(exc, NoRegionError):
        return CloudError("No AWS region was given.", "Set AWS_REGION or choose a region.")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        where = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url") or "AWS"
        return CloudError(
            f"Could not reach {where}.",
            "Check the network connection (and the sandbox, if you use one: is it running?).",
        )
    if isinstance(exc, ReadTimeoutError):
        return CloudError(
            "AWS did not answer in time.",
            "Try again in a moment.",
        )
    if isinstance(exc, ResponseParserError):
        return CloudError(
            "AWS sent an answer that could not be read.",
            "Try again; if it keeps happening, the target (or a proxy in between) is misbehaving.",
        )
    if isinstance(exc, BotoCoreError):
        return CloudError(f"The AWS call failed: {exc}", "Try again.")
    return CloudError(f"The AWS call failed: {exc.__class__.__name__}: {exc}", "Try again.")
