"""The only code that talks to AWS (boto3/botocore live here and in pushstack.sandbox).

Interface (the web pages and scripts use only this)::

    from pushstack.cloud import Cloud, CloudError, resolve_target, needs_sandbox

    target = resolve_target()            # PUSHSTACK_TARGET=auto|aws|sandbox,
                                         # PUSHSTACK_SANDBOX_URL, AWS_REGION / AWS_DEFAULT_REGION
    target.kind                          # "aws" | "sandbox"
    target.label                         # "AWS account 123456789012" | "Sandbox (moto on 127.0.0.1:PORT)"
    target.region, target.account_id, target.endpoint_url (None for aws), target.session
    needs_sandbox() -> bool              # auto/sandbox chosen and no PUSHSTACK_SANDBOX_URL given

    cloud = Cloud(target, region=None)   # region defaults to the target's; the sandbox is
                                         # seeded (network, bucket, certificate) on first use
    cloud.validate(template_body)                          # -> None, or CloudError
    Cloud.required_capabilities(template_dict)             # -> ("CAPABILITY_IAM",) ...
    cloud.launch(options, acknowledged=caps,               # -> stack id; same launch_id twice
                 termination_protection=False,             #    returns the first stack's id
                 launch_id="...")
    cloud.taken_tables(options) -> ("prefix_router", ...) the new tables that exist already
    cloud.stack(name)          -> StackView (status, reason, created, updated, parameters
                                  with NoEcho values masked, outputs, tags,
                                  termination_protection, missing_outputs)
    cloud.stack_outputs(name)  -> dict of output key -> value (one DescribeStacks)
    cloud.resources(name)      -> list[ResourceView] (emulated=False: not emulated in the sandbox)
    cloud.progress(name)       -> Progress(status, done, total, events, outputs, failure, blocking,
                                  not_emulated, finished); .as_dict() is the JSON API's shape
    cloud.list_stacks()        -> list[StackSummary] (stacks tagged by pushstack only)
    cloud.stack_options(name)  -> dict of option name -> value (non-secret), for the update form
    cloud.create_change_set(name, options, keep_crypto_key=True, acknowledged=caps) -> id
    cloud.change_set(id, name) -> ChangeSetView(status, execution_status, reason, parameters:
                                  [ParameterChange(name, old, new, secret="kept"|"replaced"|"")],
                                  changes: [Change(action, logical_id, resource_type,
                                  replacement, danger, predicted, properties:
                                  [PropertyChange(path, old, new, replacement, predicted,
                                  causes, diff)])], problem)
    cloud.execute_change_set(id, name)       # only pushstack's change set of that stack
    cloud.delete_change_set(id, name)            # discard it; the stack stays as it is
    cloud.change_set_templates(id, name) -> (current template, its parameter values,
                                  the change set's template, its parameter values)
    cloud.drift_detectable     -> False in the sandbox (moto 5.2.5 has no drift detection)
    cloud.detect_drift(name)   -> detection id (DetectStackDrift)
    cloud.drift(name, id)      -> pushstack.cloud.drift.DriftView(detection_status, drift_status,
                                  reason, checked_at, drifted_count, resources: [ResourceDrift(
                                  logical_id, resource_type, physical_id, status, properties:
                                  [PropertyDrift(path, expected, actual, difference).words]])
    cloud.last_drift(name)     -> DriftView of the last detection, or None (never checked)
    cloud.change_set(...).rollout -> pushstack.cloud.rollout.Rollout(groups: [GroupRollout(
                                  logical_id, what, clients, replaced, reasons, fewer, batch)],
                                  ami: AmiUpdate(parameter, ssm_name, deployed, current).new,
                                  problem): the node groups an update replaces, and why
    preflight.vcpu_quota(cloud) -> VcpuQuota(region, value, note).verdict(desired, maximum)
                                  (Service Quotas ec2 L-1216C47A; value None in the sandbox)
    preflight.current_ami(cloud, ssm_name) -> CurrentAmi(region, parameter, ami_id)
    queues.failure_queue(cloud, url) -> FailureQueue(url, waiting, in_flight,
                                  retention_days).depth (the output ProcessorFailureQueueURL)
    cloud.delete(name, retain=())                # retain: logical ids (only after DELETE_FAILED)
    cloud.continue_update_rollback(name, skip=())
    cloud.account_choices()    -> AccountChoices(vpcs, subnets (public, internet: where
                                  0.0.0.0/0 goes), key_pairs, certificates, hosted_zones,
                                  problems)
    cloud.sandbox_network()    -> pushstack.sandbox.SandboxNetwork(vpc_id, public_subnet_ids,
                                  private_subnet_ids, certificate_arn, code_bucket,
                                  hosted_zone_id, domain) | None (aws)

Every failure of an AWS call is a ``CloudError`` with ``.message`` (what
happened), ``.advice`` (what to do) and ``.code`` (AWS's error code or None).
Importing this package masks crypto keys in botocore's debug logs (``redact``).
"""

from pushstack.cloud import redact
from pushstack.cloud.client import LAUNCH_ID_TAG, LAUNCHED_BY_TAG, Cloud
from pushstack.cloud.errors import CloudError
from pushstack.cloud.target import Target, needs_sandbox, resolve_target
from pushstack.cloud.views import (
    MASK,
    AccountChoices,
    Certificate,
    Change,
    ChangeSetView,
    Event,
    Failure,
    HostedZone,
    Output,
    Progress,
    ResourceView,
    StackSummary,
    StackView,
    Subnet,
    Vpc,
)

redact.install()  # the crypto key never reaches a log line, even at DEBUG

__all__ = [
    "LAUNCHED_BY_TAG",
    "LAUNCH_ID_TAG",
    "MASK",
    "AccountChoices",
    "Certificate",
    "Change",
    "ChangeSetView",
    "Cloud",
    "CloudError",
    "Event",
    "Failure",
    "HostedZone",
    "Output",
    "Progress",
    "ResourceView",
    "StackSummary",
    "StackView",
    "Subnet",
    "Target",
    "Vpc",
    "needs_sandbox",
    "resolve_target",
]
