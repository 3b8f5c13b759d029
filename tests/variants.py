"""The template variants every template test, golden file and linter run covers."""

from pushstack.options import Options

# Fixed values so golden files are stable; real Fernet keys, so leak tests mean something.
CRYPTO_KEY = "q0FZ0d3Vt1o9kLh4n0X2cW8uJ5yR7bT3eA6sD1fG2hI="
OLD_CRYPTO_KEY = "x9mN3bV7cX1zL5kJ8hG2fD4sA6pO0iU9yT3rE7wQ5eM="
COMMON = {
    "stack_name": "push-test",
    "region": "us-west-2",
    "crypto_key": CRYPTO_KEY,
    "table_prefix": "autopush_golden",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
}
# autopush 1.57.0 on DynamoDB, the engine of the variants without "rs" in their name.
LEGACY = {**COMMON, "engine": "autopush-legacy"}
PROCESSOR = {
    "log_processing": "processor",
    "private_subnet_ids": ("subnet-0123456789abcdef2", "subnet-0123456789abcdef3"),
    "private_route_table_ids": ("rtb-0123456789abcdef0",),
    "messages_api_subnet_id": "subnet-0123456789abcdef2",
}
HOSTNAMES = {
    "endpoint_hostname": "updates.push.example.com",
    "websocket_hostname": "push.example.com",
    "messages_api_hostname": "messages.push.example.com",
}
CERTIFICATE = "arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"

VARIANTS: dict[str, Options] = {
    "none": Options(**LEGACY),
    "firehose": Options(**LEGACY, log_processing="firehose"),
    "processor": Options(**LEGACY, **PROCESSOR),
    "processor-tls-ssh": Options(
        **LEGACY,
        **PROCESSOR,
        certificate_arn=CERTIFICATE,
        key_name="admin",
        ssh_cidr="203.0.113.0/24",
        **HOSTNAMES,
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        messages_api_cidr="198.51.100.0/24",
    ),
    "reuse-tables": Options(
        **{**LEGACY, "crypto_key": f"{CRYPTO_KEY},{OLD_CRYPTO_KEY}"},
        **PROCESSOR,
        reuse_tables=True,
        processor_code_bucket="my-processor-code",
        existing_s3_endpoint=True,  # the VPC's own: no endpoint, no route tables asked
    ),
    # autopush-rs: the stack builds the images; then with TLS, SSH, given images, no replica.
    "rs": Options(**COMMON, engine="autopush-rs"),
    "rs-tls-ssh-images": Options(
        **COMMON,
        engine="autopush-rs",
        certificate_arn=CERTIFICATE,
        key_name="admin",
        ssh_cidr="203.0.113.0/24",
        endpoint_hostname=HOSTNAMES["endpoint_hostname"],
        websocket_hostname=HOSTNAMES["websocket_hostname"],
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        autoconnect_image="123456789012.dkr.ecr.us-west-2.amazonaws.com/push:autoconnect-1.83.1",
        autoendpoint_image="123456789012.dkr.ecr.us-west-2.amazonaws.com/push:autoendpoint-1.83.1",
        store_single_node=True,
        ami_id="ami-0123456789abcdef0",
        store_node_type="cache.t3.micro",
    ),
}
