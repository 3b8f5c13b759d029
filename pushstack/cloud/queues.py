"""The processor's failure queue: how many log events it failed on wait there (SQS
GetQueueAttributes on the queue of the stack's output ``ProcessorFailureQueueURL``).

Lambda sends an S3 event the processor failed on, after its two retries, to this queue
(its on-failure destination), with the error; SQS keeps it for the queue's retention
(the template sets 14 days, SQS's longest), then drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushstack.cloud.errors import CloudError

OUTPUT = "ProcessorFailureQueueURL"
FUNCTION_OUTPUT = "ProcessorFunctionName"
ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "MessageRetentionPeriod",
)
# GetQueueAttributes of a deleted queue: the query protocol's code, then the JSON one's.
GONE_CODES = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True)
class FailureQueue:
    """The queue's depth: ``waiting`` to be read, ``in_flight`` read but not yet deleted."""

    url: str
    waiting: int
    in_flight: int
    retention_days: int

    @property
    def depth(self) -> int:
        return self.waiting + self.in_flight

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "depth": self.depth,
            "waiting": self.waiting,
            "in_flight": self.in_flight,
            "retention_days": self.retention_days,
        }


def _count(attributes, name: str) -> int:
    try:
        return int(attributes.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def failure_queue(cloud, url: str) -> FailureQueue:
    """The depth of the failure queue at ``url`` (the output of a stack already read as
    pushstack's); a ``CloudError`` in words when it is gone or may not be read."""
    try:
        reply = cloud._call(
            "sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=list(ATTRIBUTES)
        )
    except CloudError as error:
        if error.code in GONE_CODES:
            raise CloudError(
                f"The processor's failure queue {url.rsplit('/', 1)[-1]} does not exist any "
                "more: it was deleted outside the stack, so an event the processor fails on "
                "is lost again after Lambda's retries.",
                "Check for changes made outside pushstack (below). Until a queue is there "
                "again, create one (`aws sqs create-queue`) and make it the function's "
                "on-failure destination (`aws lambda put-function-event-invoke-config`).",
                error.code,
            ) from error
        raise
    attributes = reply.get("Attributes") or {}
    return FailureQueue(
        url=url,
        waiting=_count(attributes, "ApproximateNumberOfMessages"),
        in_flight=_count(attributes, "ApproximateNumberOfMessagesNotVisible"),
        retention_days=_count(attributes, "MessageRetentionPeriod") // 86400,
    )
