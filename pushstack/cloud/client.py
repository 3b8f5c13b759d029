"""``Cloud``: every CloudFormation, S3, EC2 and ACM call pushstack makes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pushstack.cloud.errors import CloudError
from pushstack.cloud.target import Target
from pushstack.cloud.views import (
    AccountChoices,
    ChangeSetView,
    Progress,
    ResourceView,
    StackSummary,
    StackView,
)
from pushstack.options import Options

LAUNCHED_BY_TAG = "pushstack:launched-by"
LAUNCH_ID_TAG = "pushstack:launch-id"


class Cloud:
    """The AWS calls of one target and region. Keep one per process and target:
    it remembers the events it has read, so watching a stack reads only new ones."""

    def __init__(self, target: Target, region: str | None = None):
        self.target = target
        self.region = region or target.region

    def validate(self, template_body: str) -> None:
        """ValidateTemplate; raises ``CloudError`` with AWS's finding."""
        raise NotImplementedError

    @staticmethod
    def required_capabilities(template: Mapping) -> tuple[str, ...]:
        """Capabilities the template needs: CAPABILITY_IAM for IAM resources,
        CAPABILITY_NAMED_IAM when one of them has an explicit name."""
        raise NotImplementedError

    def launch(
        self,
        options: Options,
        *,
        acknowledged: Iterable[str],
        termination_protection: bool = False,
        launch_id: str,
    ) -> str:
        """Create the stack; returns its id. A second call with the same ``launch_id``
        returns the first stack's id instead of failing."""
        raise NotImplementedError

    def stack(self, name: str) -> StackView:
        raise NotImplementedError

    def resources(self, name: str) -> list[ResourceView]:
        raise NotImplementedError

    def progress(self, name: str) -> Progress:
        raise NotImplementedError

    def list_stacks(self) -> list[StackSummary]:
        raise NotImplementedError

    def stack_options(self, name: str) -> dict[str, object]:
        raise NotImplementedError

    def create_change_set(
        self,
        name: str,
        options: Options,
        *,
        keep_crypto_key: bool,
        acknowledged: Iterable[str],
    ) -> str:
        raise NotImplementedError

    def change_set(self, change_set_id: str) -> ChangeSetView:
        raise NotImplementedError

    def execute_change_set(self, change_set_id: str) -> None:
        raise NotImplementedError

    def delete(self, name: str, retain: Iterable[str] = ()) -> None:
        raise NotImplementedError

    def continue_update_rollback(self, name: str, skip: Iterable[str] = ()) -> None:
        raise NotImplementedError

    def account_choices(self) -> AccountChoices:
        raise NotImplementedError

    def sandbox_network(self):
        """The seeded network of the sandbox in this region (``SandboxNetwork``), None for AWS."""
        raise NotImplementedError


__all__ = ["LAUNCHED_BY_TAG", "LAUNCH_ID_TAG", "Cloud", "CloudError"]
