"""Every option of a deployment and its constraints: the single home of each one.

The CLI, the web form and the template's Parameters all read the specs in
``SPECS``; nothing else writes a pattern, a range or a list of choices. Split by
what each part does, all re-exported here (import from ``pushstack.options``):

    specs.py     the constants, ``Spec`` and ``SPECS`` (each option, its pattern,
                 range, choices, default, parameter and help)
    model.py     ``Options``, one checked deployment, and what it implies
    validate.py  ``from_input``: each value parsed against its spec, then the rules
                 that tie several options together; ``OptionsError``
"""

from pushstack.options.model import Options, generate_crypto_key, generate_table_prefix
from pushstack.options.specs import (
    AUTOPUSH_RS_COMMIT,
    AUTOPUSH_RS_VERSION,
    CACHE_NODE_TYPES,
    CIDR_ALLOWED,
    CIDR_PATTERN,
    CRYPTO_KEY_REVISION,
    CRYPTO_KEYS_MAX,
    ENGINE_CHOICES,
    FERNET_KEY_PATTERN,
    HOSTNAME_OPTIONS,
    HOSTNAME_PATTERN,
    IMAGE_PATTERN,
    INSTANCE_TYPES,
    INSTANCE_VCPUS,
    LEGACY,
    LIST_HINT,
    LOG_PROCESSING_CHOICES,
    NO_CODEBUILD_REGIONS,
    OPTIONAL_SHAPES,
    PARAMETER_VALUE_MAX,
    PRIVATE_SUBNETS_MAX,
    PUBLIC_SUBNETS_MAX,
    REGIONS,
    ROUTE_TABLES_MAX,
    RS,
    S3_BUCKET_PATTERN,
    SPECS,
    SUBNET_PATTERN,
    TABLE_NAME_MAX,
    TABLE_SUFFIXES,
    Spec,
)
from pushstack.options.validate import OptionsError, from_input, parse_value, split_list

__all__ = [
    "AUTOPUSH_RS_COMMIT",
    "AUTOPUSH_RS_VERSION",
    "CACHE_NODE_TYPES",
    "CIDR_ALLOWED",
    "CIDR_PATTERN",
    "CRYPTO_KEYS_MAX",
    "CRYPTO_KEY_REVISION",
    "ENGINE_CHOICES",
    "FERNET_KEY_PATTERN",
    "HOSTNAME_OPTIONS",
    "HOSTNAME_PATTERN",
    "IMAGE_PATTERN",
    "INSTANCE_TYPES",
    "INSTANCE_VCPUS",
    "LEGACY",
    "LIST_HINT",
    "LOG_PROCESSING_CHOICES",
    "NO_CODEBUILD_REGIONS",
    "OPTIONAL_SHAPES",
    "PARAMETER_VALUE_MAX",
    "PRIVATE_SUBNETS_MAX",
    "PUBLIC_SUBNETS_MAX",
    "REGIONS",
    "ROUTE_TABLES_MAX",
    "RS",
    "S3_BUCKET_PATTERN",
    "SPECS",
    "SUBNET_PATTERN",
    "TABLE_NAME_MAX",
    "TABLE_SUFFIXES",
    "Options",
    "OptionsError",
    "Spec",
    "from_input",
    "generate_crypto_key",
    "generate_table_prefix",
    "parse_value",
    "split_list",
]
