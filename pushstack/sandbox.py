"""The sandbox: moto's AWS emulator as a local server, seeded with a network to deploy into.

``python -m pushstack.sandbox`` starts one and prints its URL (stop it with Ctrl-C).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxNetwork:
    """What the sandbox is seeded with, to pre-fill the form."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    certificate_arn: str
    code_bucket: str


class Sandbox:
    """A running moto server (a subprocess); ``url`` is http://127.0.0.1:PORT."""

    def __init__(self, process, url: str):
        self.process = process
        self.url = url

    def stop(self) -> None:
        raise NotImplementedError


def start(host: str = "127.0.0.1", port: int = 0) -> Sandbox:
    """Start moto's server on a free port and wait until it answers."""
    raise NotImplementedError


def shared() -> Sandbox:
    """This process's own sandbox, started on first call and stopped at exit."""
    raise NotImplementedError


def seed(url: str, region: str) -> SandboxNetwork:
    """Create (once) the sandbox network, bucket and certificate in a region."""
    raise NotImplementedError


def reset(url: str, region: str = "us-east-1") -> SandboxNetwork:
    """Forget everything (moto's reset API), then seed again."""
    raise NotImplementedError
