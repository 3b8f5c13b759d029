"""``Options``: one deployment, every value checked against its spec (``from_input``
makes it), and what it implies: the parts the stack has, the options that apply.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

from pushstack.options.specs import (
    INSTANCE_VCPUS,
    OPTIONAL_SHAPES,
    RS,
    SPECS,
    TABLE_SUFFIXES,
    _required,
)


def _default(name: str) -> object:
    return SPECS[name].default


@dataclass(frozen=True)
class Options:
    """A deployment, every value checked against its spec."""

    stack_name: str = _default("stack_name")
    region: str = _default("region")
    crypto_key: str = field(default="", repr=False)
    table_prefix: str = _default("table_prefix")
    reuse_tables: bool = _default("reuse_tables")
    vpc_id: str | None = _default("vpc_id")
    subnet_ids: tuple[str, ...] = ()
    log_processing: str = _default("log_processing")
    engine: str = _default("engine")
    private_subnet_ids: tuple[str, ...] = ()
    private_route_table_ids: tuple[str, ...] = ()
    existing_s3_endpoint: bool = _default("existing_s3_endpoint")
    messages_api_cidr: str | None = _default("messages_api_cidr")
    messages_api_subnet_id: str | None = _default("messages_api_subnet_id")
    processor_code_bucket: str | None = _default("processor_code_bucket")
    processor_code_key: str = _default("processor_code_key")
    connection_instance_type: str = _default("connection_instance_type")
    connection_min_size: int = _default("connection_min_size")
    connection_max_size: int = _default("connection_max_size")
    connection_desired_capacity: int = _default("connection_desired_capacity")
    endpoint_instance_type: str = _default("endpoint_instance_type")
    endpoint_min_size: int = _default("endpoint_min_size")
    endpoint_max_size: int = _default("endpoint_max_size")
    endpoint_desired_capacity: int = _default("endpoint_desired_capacity")
    messages_api_instance_type: str = _default("messages_api_instance_type")
    messages_api_min_size: int = _default("messages_api_min_size")
    messages_api_max_size: int = _default("messages_api_max_size")
    messages_api_desired_capacity: int = _default("messages_api_desired_capacity")
    redis_node_type: str = _default("redis_node_type")
    autoconnect_image: str | None = _default("autoconnect_image")
    autoendpoint_image: str | None = _default("autoendpoint_image")
    store_node_type: str = _default("store_node_type")
    store_single_node: bool = _default("store_single_node")
    autopush_image: str = _default("autopush_image")
    messages_api_image: str = _default("messages_api_image")
    certificate_arn: str | None = _default("certificate_arn")
    endpoint_hostname: str | None = _default("endpoint_hostname")
    websocket_hostname: str | None = _default("websocket_hostname")
    messages_api_hostname: str | None = _default("messages_api_hostname")
    hosted_zone_id: str | None = _default("hosted_zone_id")
    ami_id: str | None = _default("ami_id")
    key_name: str | None = _default("key_name")
    ssh_cidr: str | None = _default("ssh_cidr")

    @property
    def firehose(self) -> bool:
        return self.log_processing in ("firehose", "processor")

    @property
    def rs(self) -> bool:
        return self.engine == RS

    @property
    def builds_images(self) -> bool:
        """Whether the stack builds autopush-rs's images (none were given)."""
        return self.rs and not (self.autoconnect_image and self.autoendpoint_image)

    @property
    def processor(self) -> bool:
        return self.log_processing == "processor"

    @property
    def s3_endpoint(self) -> bool:
        """Whether the stack adds an S3 gateway endpoint to the private route tables."""
        return self.processor and not self.existing_s3_endpoint

    @property
    def tls(self) -> bool:
        return bool(self.certificate_arn)

    @property
    def ssh(self) -> bool:
        return bool(self.key_name)

    @property
    def messages_api_public(self) -> bool:
        """Whether the Messages API's load balancer faces the internet (for one network)."""
        return self.processor and bool(self.messages_api_cidr)

    @property
    def dns_records(self) -> bool:
        """Whether the stack creates the host names' records in a hosted zone."""
        return bool(self.hosted_zone_id)

    def vcpus(self, size: str = "desired_capacity") -> int:
        """vCPUs the node groups run at one size (desired_capacity or max_size)."""
        groups = ["connection", "endpoint"] + (["messages_api"] if self.processor else [])
        return sum(
            INSTANCE_VCPUS[getattr(self, f"{group}_instance_type")]
            * getattr(self, f"{group}_{size}")
            for group in groups
        )

    @property
    def crypto_key_revision(self) -> str:
        """A fingerprint of the key list that reveals nothing of the keys."""
        return hashlib.sha256(self.crypto_key.encode()).hexdigest()[:12] if self.crypto_key else ""

    @property
    def crypto_keys(self) -> list[str]:
        return self.crypto_key.split(",") if self.crypto_key else []

    def table_name(self, table: str) -> str:
        return self.table_prefix + TABLE_SUFFIXES[table]

    def applies(self, name: str) -> bool:
        """Whether an option matters for this deployment's shape."""
        spec = SPECS[name]
        if spec.only_for and spec.only_for != self.log_processing:
            return False
        if spec.only_engine and spec.only_engine != self.engine:
            return False
        if name in ("autoconnect_image", "autoendpoint_image"):
            return not self.builds_images
        if name == "certificate_arn":
            return self.tls
        if name in ("key_name", "ssh_cidr"):
            return self.ssh
        if name == "private_route_table_ids":
            return not self.existing_s3_endpoint
        if name in OPTIONAL_SHAPES:  # each changes what the template creates when given
            return bool(getattr(self, name))
        return True

    def missing_for_deploy(self) -> dict[str, str]:
        """Options a deployment needs that are still empty, with what to give."""
        return {
            name: _required(spec)
            for name, spec in SPECS.items()
            if spec.required and self.applies(name) and not getattr(self, name)
        }

    def non_secret_values(self) -> dict[str, object]:
        """Every option but the crypto key, for share links and logs."""
        values = dataclasses.asdict(self)
        values.pop("crypto_key")
        return values


def generate_crypto_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_table_prefix() -> str:
    return "autopush_" + secrets.token_hex(4)
