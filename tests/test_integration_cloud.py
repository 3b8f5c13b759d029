"""The cloud module against a real sandbox (moto's server): launch, watch, update, delete."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid

import pytest
from listing import all_tables
from variants import CRYPTO_KEY, VARIANTS

from pushstack import artifacts, options, processor_zip, render
from pushstack.cloud import MASK, Cloud, CloudError, resolve_target
from pushstack.options import Options

IAM = ("CAPABILITY_IAM",)


@pytest.fixture(scope="module")
def cloud(sandbox_server):
    return Cloud(resolve_target("sandbox", "us-east-1", sandbox_server.url))


@pytest.fixture(scope="module")
def network(cloud):
    return cloud.sandbox_network()


@pytest.fixture
def launch(cloud, network):
    """Launch a variant under a fresh name and prefix; returns its options."""

    def launch_variant(variant: str, **changes) -> Options:
        suffix = uuid.uuid4().hex[:8]
        opts = dataclasses.replace(
            VARIANTS[variant],
            region="us-east-1",
            stack_name=f"{variant}-{suffix}",
            table_prefix=f"autopush_{suffix}",
            vpc_id=network.vpc_id,
            subnet_ids=network.public_subnet_ids,
        )
        if opts.processor:
            opts = dataclasses.replace(
                opts,
                private_subnet_ids=network.private_subnet_ids,
                private_route_table_ids=network.private_route_table_ids,
                messages_api_subnet_id=network.private_subnet_ids[0],
                processor_code_bucket="",  # pushstack's own zip, in the artifacts bucket
                processor_code_key=processor_zip.zip_key(),
            )
        if opts.tls:
            opts = dataclasses.replace(
                opts,
                certificate_arn=network.certificate_arn,
                hosted_zone_id=network.hosted_zone_id,
                endpoint_hostname=f"updates-{suffix}.{network.domain}",
                websocket_hostname=f"push-{suffix}.{network.domain}",
                messages_api_hostname=f"messages-{suffix}.{network.domain}",
            )
        opts = dataclasses.replace(opts, **changes)
        cloud.launch(opts, acknowledged=IAM, launch_id=f"launch-{suffix}")
        return opts

    return launch_variant


@pytest.mark.parametrize("variant", ["none", "firehose", "processor", "processor-tls-ssh"])
def test_every_log_processing_variant_comes_up(cloud, launch, variant):
    opts = launch(variant)
    progress = cloud.progress(opts.stack_name)
    assert progress.status == "CREATE_COMPLETE"
    assert progress.finished and progress.failure is None
    assert progress.done == progress.total == len(render.to_dict(_template(opts))["Resources"])
    assert "CryptoKeySecret" in progress.not_emulated  # counted as done, and said so
    scheme = "s" if opts.tls else ""
    assert progress.outputs["WebSocketURL"].startswith(f"ws{scheme}://")
    assert progress.outputs["EndpointURL"].startswith(f"http{scheme}://")
    assert progress.outputs["RouterTableName"] == f"{opts.table_prefix}_router"
    if variant == "processor":
        assert progress.outputs["MessagesApiURL"]
    _update_form_reads_the_stack_as_launched(cloud, opts)

    stack = cloud.stack(opts.stack_name)
    assert stack.parameters["CryptoKey"] == MASK
    assert CRYPTO_KEY not in repr(stack) and CRYPTO_KEY not in json.dumps(progress.as_dict())
    assert stack.tags["pushstack:launched-by"] == "pushstack"
    # The sandbox skips the secret: its output is missing, and said so.
    assert "CryptoKeySecretArn" in stack.missing_outputs

    resources = {row.logical_id: row for row in cloud.resources(opts.stack_name)}
    assert set(resources) == set(render.to_dict(_template(opts))["Resources"])
    assert not resources["CryptoKeySecret"].emulated
    assert resources["RouterTable"].emulated
    assert resources["RouterTable"].physical_id == f"{opts.table_prefix}_router"
    assert all(row.status == "CREATE_COMPLETE" for row in resources.values() if row.emulated)
    # The repository of the nodes' image copies; the processor's S3 gateway endpoint, on
    # the private subnets' route table.
    ecr = cloud.target.client("ecr")
    [repository] = ecr.describe_repositories(
        repositoryNames=[resources["ImageRepository"].physical_id]
    )["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    if opts.processor:
        [endpoint] = cloud.target.client("ec2").describe_vpc_endpoints(
            VpcEndpointIds=[resources["S3Endpoint"].physical_id]
        )["VpcEndpoints"]
        assert endpoint["VpcEndpointType"] == "Gateway"
        assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.s3"
        assert endpoint["RouteTableIds"] == list(opts.private_route_table_ids)


@pytest.mark.parametrize("variant", ["rs", "rs-tls-ssh-images"])
def test_autopush_rs_comes_up_with_what_the_sandbox_cannot_build_said(cloud, launch, variant):
    """The sandbox has no CodeBuild, ElastiCache or custom resources: the stack completes
    and names them as not emulated; the repository it does emulate is made as asked."""
    opts = launch(variant)
    progress = cloud.progress(opts.stack_name)
    assert progress.status == "CREATE_COMPLETE" and progress.failure is None
    resources = {row.logical_id: row for row in cloud.resources(opts.stack_name)}
    assert set(resources) == set(render.to_dict(_template(opts))["Resources"])
    not_emulated = {"PushStore", "StoreSubnetGroup", "AuthKeySecret", "CryptoKeySecret"}
    if opts.builds_images:
        not_emulated |= {"ImageBuildProject", "ImageBuild"}
    assert not_emulated <= set(progress.not_emulated)
    assert not any(name.endswith("Table") for name in resources)  # no DynamoDB
    assert resources["ConnectionNodes"].emulated and resources["EndpointNodes"].emulated
    stack = cloud.stack(opts.stack_name)
    assert stack.parameters["Engine"] == "autopush-rs"
    _update_form_reads_the_stack_as_launched(cloud, opts)
    if opts.builds_images:
        assert resources["ImageRepository"].emulated
        ecr = cloud.target.client("ecr")
        [repository] = ecr.describe_repositories(
            repositoryNames=[resources["ImageRepository"].physical_id]
        )["repositories"]
        # (moto drops the scan-on-push setting given through CloudFormation; the
        # template tests check it.)
        assert repository["imageTagMutability"] == "IMMUTABLE"


def _update_form_reads_the_stack_as_launched(cloud, opts: Options) -> None:
    """The update form's values, read back from the stack, describe the same shape and
    are accepted as they are (an autopush-rs stack's image build has a Lambda function:
    it was read as the processor, which autopush-rs refuses)."""
    values = cloud.stack_options(opts.stack_name)
    assert values["engine"] == opts.engine
    assert values["log_processing"] == opts.log_processing
    reread = options.from_input({**values, "crypto_key": CRYPTO_KEY}, fill_secrets=False)
    assert (reread.engine, reread.log_processing) == (opts.engine, opts.log_processing)


def _template(opts: Options):
    from pushstack.template import build_template

    return build_template(opts)


def test_a_large_template_and_the_processor_code_go_through_the_artifacts_bucket(cloud, launch):
    opts = launch("processor")
    assert len(render.to_json(_template(opts), indent=2).encode()) > render.INLINE_TEMPLATE_LIMIT
    s3 = cloud.target.client("s3")
    bucket = artifacts.bucket_name(cloud.target.account_id, "us-east-1")
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert any(key.startswith(f"templates/{opts.stack_name}/") for key in keys)
    zip_object = s3.get_object(Bucket=bucket, Key=processor_zip.zip_key())
    assert zip_object["Body"].read() == processor_zip.zip_bytes()
    access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(access.values())
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]


def test_a_processor_code_key_not_in_the_bucket_is_named_before_launch(cloud, launch):
    """An old share link or a typed key: the stack would look for a zip that is not
    there (in AWS the Lambda fails minutes later); the launch says so at once."""
    with pytest.raises(CloudError) as caught:
        launch("processor", processor_code_key="processor/push-processor-0000000000000000.zip")
    assert "processor/push-processor-0000000000000000.zip is not in the artifacts" in (
        caught.value.message
    )
    assert processor_zip.zip_key() in caught.value.advice


def test_a_double_launch_makes_one_stack(cloud, launch):
    opts = launch("none")
    first = cloud.stack(opts.stack_name)
    launch_id = first.tags["pushstack:launch-id"]
    again = cloud.launch(opts, acknowledged=IAM, launch_id=launch_id)
    assert again == first.stack_id
    assert [s.name for s in cloud.list_stacks()].count(opts.stack_name) == 1
    with pytest.raises(CloudError, match="already exists"):
        cloud.launch(opts, acknowledged=IAM, launch_id="another-launch")


def test_the_list_holds_only_stacks_pushstack_launched(cloud, launch):
    opts = launch("none")
    cloud.target.client("cloudformation").create_stack(
        StackName=f"other-{uuid.uuid4().hex[:8]}",
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
    )
    listed = {s.name: s for s in cloud.list_stacks()}
    assert opts.stack_name in listed
    assert listed[opts.stack_name].status == "CREATE_COMPLETE"
    assert listed[opts.stack_name].created is not None
    assert not any(name.startswith("other-") for name in listed)


def test_the_list_holds_stacks_made_with_the_printed_command(cloud):
    """`pushstack push` prints a create-stack command tagging pushstack:managed=true; the
    README promises the wizard lists those stacks too."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    cloud.target.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
        Tags=[{"Key": "pushstack:managed", "Value": "true"}],
    )
    assert name in {s.name for s in cloud.list_stacks()}


def test_update_through_a_change_set_keeps_the_key(cloud, launch):
    opts = launch("none")
    current = cloud.stack_options(opts.stack_name)
    assert current["subnet_ids"] == opts.subnet_ids
    assert current["connection_max_size"] == opts.connection_max_size
    assert current["log_processing"] == "none"
    assert "crypto_key" not in current

    wanted = Options(**{**current, "log_processing": "firehose", "connection_max_size": 6})
    change_set_id = cloud.create_change_set(
        opts.stack_name, wanted, keep_crypto_key=True, acknowledged=IAM
    )
    change_set = cloud.change_set(change_set_id, opts.stack_name)
    assert change_set.ready
    added = {c.logical_id for c in change_set.changes if c.action == "Add"}
    assert {"LogBucket", "LogDeliveryStream"} <= added
    assert not change_set.dangers

    cloud.execute_change_set(change_set_id, opts.stack_name)
    progress = cloud.progress(opts.stack_name)
    assert progress.status == "UPDATE_COMPLETE"
    assert progress.events[0].status == "UPDATE_IN_PROGRESS"
    stack = cloud.stack(opts.stack_name)
    assert stack.parameters["ConnectionMaxSize"] == "6"
    # A list as the page shows it, not the sandbox's Python repr "['subnet-...', ...]".
    assert stack.parameters["SubnetIds"] == ",".join(opts.subnet_ids)
    assert stack.parameters["CryptoKeyRevision"] == opts.crypto_key_revision  # the key kept
    assert cloud.stack_options(opts.stack_name)["log_processing"] == "firehose"


def test_turning_log_processing_off_leaves_a_stack_that_reads_and_deletes(cloud, launch):
    """An update removing resources an old output named (the Firehose stream): the stack
    still reads afterwards, with the new template's outputs, and deletes."""
    opts = launch("firehose")
    wanted = Options(**{**cloud.stack_options(opts.stack_name), "log_processing": "none"})
    change_set_id = cloud.create_change_set(
        opts.stack_name, wanted, keep_crypto_key=True, acknowledged=IAM
    )
    assert {c.logical_id for c in cloud.change_set(change_set_id, opts.stack_name).dangers} == {
        "LogBucket"
    }
    cloud.execute_change_set(change_set_id, opts.stack_name)

    stack = cloud.stack(opts.stack_name)
    assert stack.status == "UPDATE_COMPLETE"
    assert "LogBucketName" not in stack.output_values
    assert stack.output_values["WebSocketURL"].startswith("ws://")
    assert cloud.progress(opts.stack_name).done == cloud.progress(opts.stack_name).total
    assert cloud.stack_options(opts.stack_name)["log_processing"] == "none"
    cloud.delete(opts.stack_name)
    assert cloud.progress(opts.stack_name).status == "DELETE_COMPLETE"


def test_a_change_set_dropping_the_tables_is_flagged(cloud, launch):
    opts = launch("none")
    wanted = Options(**{**cloud.stack_options(opts.stack_name), "reuse_tables": True})
    change_set = cloud.change_set(
        cloud.create_change_set(opts.stack_name, wanted, keep_crypto_key=True, acknowledged=IAM),
        opts.stack_name,
    )
    flagged = {c.logical_id for c in change_set.dangers}
    assert flagged == {"RouterTable", "MessageTable"}
    assert all("DynamoDB table" in c.danger for c in change_set.dangers)
    # Applied, the tables leave the stack but stay in the account (DeletionPolicy Retain).
    cloud.execute_change_set(change_set.change_set_id, opts.stack_name)
    tables = all_tables(cloud.target.client("dynamodb"))
    assert {f"{opts.table_prefix}_router", f"{opts.table_prefix}_message"} <= set(tables)


def test_delete_keeps_the_tables_and_a_new_launch_says_the_prefix_is_taken(
    cloud, launch, sandbox_server
):
    opts = launch("firehose")
    stack = cloud.stack(opts.stack_name)
    bucket = stack.output_values["LogBucketName"]
    cloud.delete(opts.stack_name)
    # By its id, the deleted stack is still there to read.
    assert cloud.stack(stack.stack_id).status == "DELETE_COMPLETE"
    assert cloud.progress(stack.stack_id).status == "DELETE_COMPLETE"
    rows = cloud.resources(stack.stack_id)
    assert all(row.emulated for row in rows)
    # What the delete did to each: the tables and the bucket kept, the rest deleted.
    statuses = {row.logical_id: row.status for row in rows}
    assert statuses["RouterTable"] == statuses["LogBucket"] == "DELETE_SKIPPED"
    assert statuses["ConnectionNodes"] == "DELETE_COMPLETE"
    progress = cloud.progress(opts.stack_name)
    assert progress.status == "DELETE_COMPLETE" and progress.finished
    assert progress.events[0].status == "DELETE_IN_PROGRESS"
    # Another process, which never saw the stack, still finds how its delete ended.
    fresh = Cloud(resolve_target("sandbox", "us-east-1", sandbox_server.url))
    assert fresh.progress(opts.stack_name).status == "DELETE_COMPLETE"
    assert opts.stack_name not in {s.name for s in cloud.list_stacks()}

    tables = all_tables(cloud.target.client("dynamodb"))
    assert {f"{opts.table_prefix}_router", f"{opts.table_prefix}_message"} <= set(tables)
    assert bucket in {b["Name"] for b in cloud.target.client("s3").list_buckets()["Buckets"]}

    with pytest.raises(CloudError) as caught:
        cloud.launch(
            dataclasses.replace(opts, stack_name=opts.stack_name + "-again"),
            acknowledged=IAM,
            launch_id="again",
        )
    assert "already exist" in caught.value.message
    assert "Reuse them" in caught.value.advice


def test_the_account_choices_offer_the_sandbox_network(cloud, network):
    cloud.target.client("ec2").create_key_pair(KeyName="admin-key")
    choices = cloud.account_choices()
    assert network.vpc_id in {v.vpc_id for v in choices.vpcs}
    subnets = {s.subnet_id: s for s in choices.subnets}
    assert all(subnets[s].public for s in network.public_subnet_ids)
    assert not any(subnets[s].public for s in network.private_subnet_ids)
    assert {subnets[s].zone for s in network.public_subnet_ids} == {"us-east-1a", "us-east-1b"}
    assert "admin-key" in choices.key_pairs
    assert network.certificate_arn in {c.arn for c in choices.certificates}
    assert (network.hosted_zone_id, network.domain) in {
        (z.zone_id, z.name) for z in choices.hosted_zones
    }
    assert not choices.problems


def test_a_stack_that_is_not_there(cloud):
    with pytest.raises(CloudError, match="There is no stack named nothing-here"):
        cloud.progress("nothing-here")


def test_the_crypto_key_reaches_no_log_line_even_at_debug(cloud, launch, caplog):
    caplog.set_level(logging.DEBUG)
    opts = launch("none")
    cloud.stack(opts.stack_name)
    cloud.progress(opts.stack_name)
    assert "CreateStack" in caplog.text  # botocore did log the request
    assert CRYPTO_KEY not in caplog.text
