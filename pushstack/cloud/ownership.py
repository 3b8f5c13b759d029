"""Which stacks and change sets are pushstack's: the wizard reads and changes no others.

A stack is pushstack's when it carries the tag the wizard's launch sets
(``pushstack:launched-by=pushstack``) or the one of the create-stack command
``pushstack push`` prints (``pushstack:managed=true``). A change set is
pushstack's when the wizard made it: its name and description are the ones
``Cloud.create_change_set`` gives, and it belongs to the stack it is executed on.
"""

from __future__ import annotations

from collections.abc import Mapping

from pushstack.cloud.errors import CloudError

LAUNCHED_BY_TAG = "pushstack:launched-by"
LAUNCH_ID_TAG = "pushstack:launch-id"
LAUNCHED_BY = "pushstack"
# The tag of the create-stack command `pushstack push` prints (pushstack.render): stacks
# made with it are pushstack's too.
MANAGED_TAG = ("pushstack:managed", "true")
NOT_PUSHSTACKS = "NotPushstack"  # the code of the refusal (an HTTP 403 for the pages)
CHANGE_SET_PREFIX = "pushstack-"
CHANGE_SET_DESCRIPTION = "Update from pushstack"


def stack_tags(stack: Mapping) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in stack.get("Tags") or ()}


def is_pushstacks(tags: Mapping[str, str]) -> bool:
    """Launched by the wizard, or created with the command pushstack prints."""
    key, value = MANAGED_TAG
    return tags.get(LAUNCHED_BY_TAG) == LAUNCHED_BY or tags.get(key) == value


def require_stack(stack: Mapping, region: str) -> None:
    """Refuse, in words, a stack pushstack did not make (DescribeStacks' answer)."""
    if is_pushstacks(stack_tags(stack)):
        return
    name = stack.get("StackName", "")
    key, value = MANAGED_TAG
    raise CloudError(
        f"The stack {name} in {region} was not made by pushstack, so the wizard neither "
        "shows nor changes it.",
        "Manage it with the AWS console or the AWS CLI. The wizard works only on stacks "
        f"tagged {LAUNCHED_BY_TAG}={LAUNCHED_BY} (its launches) or {key}={value} (the "
        "command `pushstack push` prints).",
        NOT_PUSHSTACKS,
    )


def require_change_set(change_set: Mapping, stack: Mapping) -> None:
    """Refuse a change set (DescribeChangeSet's answer) that is not the wizard's update
    of ``stack`` (DescribeStacks' answer of the stack named in the address)."""
    name = stack.get("StackName", "")
    if change_set.get("StackId") != stack.get("StackId"):
        raise CloudError(
            f"This change set belongs to another stack than {name}.",
            f"Open {name}'s page and choose Update this stack to make its own change set.",
            NOT_PUSHSTACKS,
        )
    made_by_pushstack = str(change_set.get("ChangeSetName", "")).startswith(CHANGE_SET_PREFIX) and (
        change_set.get("Description") == CHANGE_SET_DESCRIPTION
    )
    if not made_by_pushstack:
        raise CloudError(
            f"This change set of {name} was not made by pushstack, so the wizard does not "
            "apply it.",
            "Review and apply it with the AWS console or the AWS CLI, or make a new one "
            f"with Update this stack on {name}'s page.",
            NOT_PUSHSTACKS,
        )
