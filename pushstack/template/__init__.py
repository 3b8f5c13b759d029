"""The Push stack as a CloudFormation template: a pure function of the options.

Each piece is a small function named after what it creates, in a module named
after the part of the stack it builds; ``build_template`` assembles them. The
options decide the template's shape (log processing, TLS, SSH, new or reused
tables); the values an operator picks are Parameters that carry the options'
constraints, so one template serves any account.
"""

from __future__ import annotations

from troposphere import Template

from pushstack.options import Options
from pushstack.template.boot import BOOT_SCRIPT
from pushstack.template.common import AMI_PARAMETER, LAMBDA_RUNTIME, ROUTER_PORT
from pushstack.template.images import images
from pushstack.template.logs import log_bucket, log_delivery_stream
from pushstack.template.network import security_groups
from pushstack.template.nodes import node_role, push_nodes
from pushstack.template.outputs import outputs
from pushstack.template.parameters import parameter_groups, parameters
from pushstack.template.processor import (
    messages_api,
    processor,
    processor_settings,
    redis,
    s3_endpoint,
)
from pushstack.template.store import auth_key_secret, push_store
from pushstack.template.tables import (
    crypto_key_secret,
    message_table,
    router_table,
)

__all__ = ["AMI_PARAMETER", "BOOT_SCRIPT", "LAMBDA_RUNTIME", "ROUTER_PORT", "build_template"]


def description(opts: Options) -> str:
    logs_text = {
        "none": "no log processing",
        "firehose": "logs to S3 through Firehose",
        "processor": "logs to S3 through Firehose, push processor, Redis and Push Messages API",
    }[opts.log_processing]
    extras = [text for flag, text in ((opts.tls, "TLS"), (opts.ssh, "SSH")) if flag]
    engine = "autopush-rs on Valkey" if opts.rs else "autopush 1.57.0 on DynamoDB"
    return f"Mozilla Push stack ({engine}): {logs_text}" + (
        f"; {', '.join(extras)}" if extras else ""
    )


def build_template(opts: Options) -> Template:
    """The complete Push stack for these options."""
    t = Template(Description=description(opts))
    t.set_version("2010-09-09")
    t.add_mapping("Boot", {"Script": {"Body": BOOT_SCRIPT}})
    parameters(t, opts)
    crypto_key_secret(t)
    if opts.rs:
        auth_key_secret(t)
    elif not opts.reuse_tables:
        t.add_resource(router_table())
        t.add_resource(message_table())
    security_groups(t, opts)
    if opts.rs:
        push_store(t, opts)
    images(t, opts)
    if opts.firehose:
        log_bucket(t, opts)
        log_delivery_stream(t)
    if opts.processor:
        redis(t)
        if opts.s3_endpoint:
            s3_endpoint(t)
        processor(t)
        processor_settings(t)
        messages_api(t, opts)
    node_role(t, opts)
    push_nodes(t, opts)
    outputs(t, opts)
    parameter_groups(t, opts)
    return t
