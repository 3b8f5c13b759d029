"""Where pushstack keeps what a stack needs from S3: one artifacts bucket per
account and region, holding large templates and the processor's Lambda zip.

The template names the bucket with ``BUCKET_SUB`` (resolved by CloudFormation in
whatever account and region it runs); the cloud module names it with
``bucket_name`` when it creates the bucket and uploads to it. Both must agree.
"""

from __future__ import annotations

BUCKET_PREFIX = "pushstack-artifacts"
BUCKET_SUB = BUCKET_PREFIX + "-${AWS::AccountId}-${AWS::Region}"
TEMPLATE_KEY_PREFIX = "templates/"
PROCESSOR_KEY_PREFIX = "processor/"


def bucket_name(account_id: str, region: str) -> str:
    """The artifacts bucket of one account and region (at most 63 characters)."""
    return f"{BUCKET_PREFIX}-{account_id}-{region}"


def object_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted URL CloudFormation takes as TemplateURL (in AWS and the sandbox)."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
