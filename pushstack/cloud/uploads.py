"""The artifacts bucket and what pushstack puts in it: templates past the inline
limit and the processor's zip.

``Uploads`` is a part of ``Cloud`` (pushstack.cloud.client), which keeps its
state (``_artifacts_ready``) and makes its calls (``_client``, ``_call``).
"""

from __future__ import annotations

import hashlib

from pushstack import artifacts, render
from pushstack.cloud.errors import CloudError, translate
from pushstack.options import Options


class Uploads:
    """The artifacts bucket, created when missing, and the uploads to it."""

    @property
    def artifacts_bucket(self) -> str:
        return artifacts.bucket_name(self.account_id, self.region)

    def _ensure_artifacts_bucket(self) -> str:
        """The artifacts bucket, created (encrypted, not public) when missing."""
        bucket = self.artifacts_bucket
        if self._artifacts_ready:
            return bucket
        try:
            self._client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=self.account_id)
        except Exception as exc:
            error = translate(exc, "HeadBucket", self.target.endpoint_url)
            if error.code not in ("404", "NoSuchBucket", "NotFound"):
                if error.code in ("403", "AccessDenied"):
                    raise CloudError(
                        f"The artifacts bucket {bucket} exists but belongs to another account "
                        "or may not be read.",
                        "Allow s3:GetBucketLocation and s3:PutObject on it, or delete it.",
                        error.code,
                    ) from exc
                raise error from exc
            location = (
                {}
                if self.region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            try:
                self._client("s3").create_bucket(Bucket=bucket, **location)
            except Exception as create_exc:
                error = translate(create_exc, "CreateBucket", self.target.endpoint_url)
                if error.code not in ("BucketAlreadyOwnedByYou",):
                    raise error from create_exc
            self._call(
                "s3",
                "put_public_access_block",
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self._call(
                "s3",
                "put_bucket_encryption",
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        self._artifacts_ready = True
        return bucket

    def _upload(self, key: str, body: bytes, content_type: str) -> str:
        """Put one object in the artifacts bucket; returns its URL for CloudFormation."""
        for attempt in (1, 2):
            bucket = self._ensure_artifacts_bucket()
            try:
                self._call(
                    "s3",
                    "put_object",
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    ServerSideEncryption="AES256",
                )
            except CloudError as error:
                if error.code != "NoSuchBucket" or attempt == 2:
                    raise
                self._artifacts_ready = False  # deleted since this process checked: again
            else:
                break
        return artifacts.object_url(bucket, self.region, key)

    def _template_argument(self, name: str, body: str) -> dict[str, str]:
        """TemplateBody when it fits inline, else TemplateURL of an uploaded copy."""
        data = body.encode()
        if len(data) <= render.INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": body}
        digest = hashlib.sha256(data).hexdigest()[:16]
        key = f"{artifacts.TEMPLATE_KEY_PREFIX}{name}/{digest}.json"
        return {"TemplateURL": self._upload(key, data, "application/json")}

    def _upload_processor_code(self, options: Options) -> None:
        """Upload the processor's zip, built by pushstack, when the stack takes its code
        from the artifacts bucket (the code bucket left empty, or naming that bucket)."""
        if not options.processor:
            return
        bucket = getattr(options, "processor_code_bucket", None)
        if bucket and bucket != self.artifacts_bucket:
            return  # the user's own bucket and zip
        from pushstack import processor_zip

        try:
            data, key = processor_zip.zip_bytes(), processor_zip.zip_key()
        except processor_zip.ProcessorZipError as exc:
            raise CloudError(
                f"The processor's code could not be built: {exc}.",
                "Give the bucket and key of a processor zip you uploaded yourself.",
            ) from exc
        wanted = getattr(options, "processor_code_key", "") or key
        if wanted != key:
            # Another key in the artifacts bucket (typed, or from an older share link):
            # the stack would look for a zip that may not be there.
            try:
                self._call("s3", "head_object", Bucket=self._ensure_artifacts_bucket(), Key=wanted)
            except CloudError as error:
                raise CloudError(
                    f"The processor's code key {wanted} is not in the artifacts bucket "
                    f"{self.artifacts_bucket}.",
                    f"Set the processor code key to {key} (pushstack's own zip, uploaded at "
                    "launch), or upload your zip to that key first.",
                    error.code,
                ) from error
            return
        self._upload(key, data, "application/zip")
