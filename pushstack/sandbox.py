"""The sandbox: moto's AWS emulator as a local server, seeded with a network to deploy into.

``python -m pushstack.sandbox`` starts one and prints its URL (stop it with Ctrl-C).
"""

from __future__ import annotations

import atexit
import datetime
import fcntl
import hashlib
import hmac
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from pushstack import artifacts, sandbox_pace

NETWORK_TAG = "pushstack:sandbox"  # value: network | public | private
VPC_CIDR = "10.20.0.0/16"
# /20s (4,091 addresses each): every stack's nodes take addresses and moto frees few
# of them, so a sandbox that launches a few hundred stacks (as the test suite does) ran
# /24s dry, and CreateStack failed inside moto ("pop from an empty set").
PUBLIC_CIDRS = ("10.20.0.0/20", "10.20.16.0/20")
PRIVATE_CIDRS = ("10.20.64.0/20", "10.20.80.0/20")
CERTIFICATE_DOMAIN = "push.sandbox.test"  # the certificate covers it and *.push.sandbox.test
DOMAIN = CERTIFICATE_DOMAIN  # the seeded hosted zone's name
START_TIMEOUT = 30.0  # seconds for the server to answer
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class SandboxNetwork:
    """What the sandbox is seeded with, to pre-fill the form."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    certificate_arn: str
    code_bucket: str
    hosted_zone_id: str = ""  # a public zone of DOMAIN, which the certificate covers
    domain: str = ""
    private_route_table_ids: tuple[str, ...] = ()  # where the processor's S3 endpoint goes


class Sandbox:
    """A running moto server (a subprocess); ``url`` is http://127.0.0.1:PORT."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url

    def stop(self) -> None:
        """Stop the server and wait for it (idempotent); its seed lock file goes with it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _SeedLock(self.url).path.unlink(missing_ok=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# Local calls never go through an HTTP proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# Issue 16 item 10: the server started proves it is the one answering its port (another
# program may have taken the port between the free-port check and the bind): it answers
# a challenge with an HMAC under a secret made for this start, known to it alone.
PROOF_PATH = "/pushstack-sandbox/proof"
PROOF_KEY_VARIABLE = "PUSHSTACK_SANDBOX_PROOF_KEY"


def _proof(key: str, challenge: str) -> str:
    return hmac.new(key.encode(), challenge.encode(), hashlib.sha256).hexdigest()


def _answers(url: str, key: str) -> bool:
    """Whether the sandbox started with ``key`` answers at ``url`` (not another program)."""
    challenge = secrets.token_urlsafe(16)
    try:
        with _LOCAL.open(f"{url}{PROOF_PATH}?challenge={challenge}", timeout=2) as reply:
            answer = reply.read(200).decode("ascii", "replace")
            return reply.status == 200 and hmac.compare_digest(answer, _proof(key, challenge))
    except (urllib.error.URLError, OSError):
        return False


# The server process: moto's server, with the fixes of ``patch_moto`` applied.
SERVE = "import sys; from pushstack.sandbox import serve; serve(sys.argv[1:])"


def patch_moto() -> None:
    """Fix, inside the sandbox's own process, what moto 5.2.5 gets wrong in a way that
    breaks the wizard's flow (never imported by the wizard itself).

    An executed change set leaves moto's stack with the outputs of its *previous*
    template: once the update removed a resource an old output refers to (turning log
    processing off removes the Firehose stream), every DescribeStacks of that stack
    fails with an HTTP 500, so the stack can no longer be shown, updated or deleted.
    After the change set, the stack's outputs are read from its new template, as
    CloudFormation does.

    An update that removes a resource with ``DeletionPolicy: Retain`` (reusing
    existing tables, turning log processing off) deleted it, tables and log bucket
    included: the sandbox keeps it, as CloudFormation does (and as moto's own
    DeleteStack already does).

    GetTemplate ignores ``ChangeSetName`` and answers the stack's current template:
    it answers the change set's, as CloudFormation does, so the change set page can
    compare the two.

    Hosted zone ids are 22 random letters and digits; Route 53's begin with "Z", as the
    form's pattern (options) asks: the sandbox's zone made TLS stacks fail to validate
    when read back (the update form) or picked in the form. They begin with "Z" here.

    With PUSHSTACK_SANDBOX_PACE above 0 (the default, 1), creates, applied change sets
    and deletes take time and report each resource, as in AWS (``sandbox_pace``).
    """
    from moto.cloudformation import models, parsing, responses

    backend = models.CloudFormationBackend
    if getattr(backend.execute_change_set, "pushstack_patched", False):
        return
    delete_resource = parsing.ResourceMap._delete_resource

    def _delete_resource(self, parsed_resource, resource_json):
        if resource_json.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
            return  # kept in the account, out of the stack
        delete_resource(self, parsed_resource, resource_json)

    parsing.ResourceMap._delete_resource = _delete_resource
    original = backend.execute_change_set
    pace = sandbox_pace.pace_from_environment()

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name),
            None,
        )
        stack = self.stacks.get(change_set.stack_id) if change_set else None
        before = _snapshot(stack) if stack is not None and pace > 0 else None
        original(self, change_set_name, stack_name)
        if stack is not None:
            stack._parse_template()
            stack.output_map = stack._create_output_map()
            if before is not None and stack.status == "UPDATE_COMPLETE":
                _pace_update(models, stack, before, change_set.parameters, pace)

    execute_change_set.pushstack_patched = True
    backend.execute_change_set = execute_change_set
    get_template = responses.CloudFormationResponse.get_template

    def get_change_set_template(self):
        name = self._get_param("ChangeSetName")
        if not name:
            return get_template(self)
        change_set = self.cloudformation_backend.describe_change_set(change_set_name=name)
        return responses.ActionResult({"TemplateBody": change_set.template})

    responses.CloudFormationResponse.get_template = get_change_set_template
    from moto.route53 import models as route53

    random_zone_id = route53.create_route53_zone_id

    def zone_id_like_route53(*args, **kwargs):
        return "Z" + random_zone_id(*args, **kwargs)[1:]

    route53.create_route53_zone_id = zone_id_like_route53
    if pace > 0:
        _pace_creations(models, responses, pace)
        _pace_deletions(models, pace)


# Stacks whose operation is replayed along a schedule (sandbox_pace): stack id -> (whether
# ListStackResources shows only the resources begun so far, as in a creation; the
# status of each begun). Only ever touched inside the sandbox's own process.
_PACED: dict[str, tuple[bool, dict[str, str]]] = {}
_PACED_LOCK = threading.Lock()


def _pace_creations(models, responses, pace: float) -> None:
    """Creations that take time, as in AWS: moto still creates the whole stack in the
    call, but the stack says CREATE_IN_PROGRESS, and each resource's CREATE_IN_PROGRESS
    and CREATE_COMPLETE events appear (and the resource in ListStackResources) along
    the schedule, in dependency order; then the stack's CREATE_COMPLETE."""
    backend = models.CloudFormationBackend
    create_stack = backend.create_stack

    def paced_create_stack(self, *args, **kwargs):
        stack = create_stack(self, *args, **kwargs)
        if stack.status != "CREATE_COMPLETE" or not stack.events:
            return stack  # moto stopped half-way: leave it as it is
        created = [
            getattr(resource, "logical_resource_id", "")
            for resource in stack.stack_resources
            if resource is not None
        ]
        steps = sandbox_pace.schedule(stack.template_dict, created, pace)
        if not steps:
            return stack
        complete = stack.events.pop()  # the stack's CREATE_COMPLETE, replayed at the end
        _start_replay(models, stack, steps, complete, "CREATE", only_begun=True)
        return stack

    backend.create_stack = paced_create_stack
    list_resources = responses.CloudFormationResponse.list_stack_resources

    def paced_list_stack_resources(self):
        answer = list_resources(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        with _PACED_LOCK:
            paced = _PACED.get(stack.stack_id)
            only_begun, begun = (paced[0], dict(paced[1])) if paced else (False, None)
        if begun is None:
            return answer
        # Each resource begun so far with its own status, as AWS lists them; in a creation,
        # only those.
        summaries = [
            {**summary, "ResourceStatus": begun.get(logical_id, summary["ResourceStatus"])}
            for summary in answer.result["StackResourceSummaries"]
            if (logical_id := summary.get("LogicalResourceId")) in begun or not only_begun
        ]
        return responses.ActionResult({"StackResourceSummaries": summaries})

    responses.CloudFormationResponse.list_stack_resources = paced_list_stack_resources


def _pace_deletions(models, pace: float) -> None:
    """Deletes that take time: moto deletes at once and files the stack as deleted; the
    stack stays found by its name, DELETE_IN_PROGRESS, while each resource's
    DELETE_IN_PROGRESS and DELETE_COMPLETE (DELETE_SKIPPED when retained) appear in the
    creation's reverse order; then the stack's DELETE_COMPLETE, and it is filed deleted."""
    backend = models.CloudFormationBackend
    delete_stack = backend.delete_stack

    def paced_delete_stack(self, name_or_stack_id):
        try:
            stack = self.get_stack(name_or_stack_id)
        except Exception:  # moto's own answer (no such stack) comes from the call below
            stack = None
        if stack is not None and stack.status == "DELETE_IN_PROGRESS":
            return  # being deleted already: AWS ignores another delete too
        before = None
        if stack is not None and stack.stack_id in self.stacks:
            before = (stack.template_dict, _physical_ids(stack))
        delete_stack(self, name_or_stack_id)
        if before is None or stack.status != "DELETE_COMPLETE" or not stack.events:
            return
        template, physical = before
        resources = template.get("Resources") or {}
        retained = [
            name
            for name in physical
            if (resources.get(name) or {}).get("DeletionPolicy")
            in ("Retain", "RetainExceptOnCreate")
        ]
        steps = sandbox_pace.delete_schedule(template, physical, retained, pace)
        if not steps:
            return
        complete = stack.events.pop()  # the stack's DELETE_COMPLETE, replayed at the end
        # Still a live stack, found by its name, until the replay ends.
        self.deleted_stacks.pop(stack.stack_id, None)
        self.stacks[stack.stack_id] = stack

        def filed_deleted():
            self.stacks.pop(stack.stack_id, None)
            self.deleted_stacks[stack.stack_id] = stack

        _start_replay(
            models,
            stack,
            steps,
            complete,
            "DELETE",
            only_begun=False,
            physical=physical,
            on_end=filed_deleted,
        )

    backend.delete_stack = paced_delete_stack


def _snapshot(stack) -> tuple[dict, dict[str, str], dict[str, str]]:
    """A stack's template, parameter values and the types of the resources the sandbox
    made, before an update."""
    values = {
        key: ",".join(map(str, value)) if isinstance(value, list) else str(value)
        for key, value in stack.resource_map.resolved_parameters.items()
    }
    kinds = {
        getattr(resource, "logical_resource_id", ""): getattr(resource, "cf_resource_type", "")
        for resource in stack.stack_resources
        if resource is not None
    }
    return stack.template_dict, values, kinds


def _pace_update(models, stack, before, parameters, pace: float) -> None:
    """An executed change set, replayed: the resources it adds (CREATE_*) and modifies
    (UPDATE_*) in dependency order, then those it removes (DELETE_*, DELETE_SKIPPED when
    retained), found by comparing the templates with their parameter values
    (pushstack.changes); then the stack's UPDATE_COMPLETE."""
    from pushstack import changes

    old_template, old_values, old_kinds = before
    new_template = stack.template_dict
    new_values = changes.parameter_values(
        new_template,
        {
            key: ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for key, value in (parameters or {}).items()
        },
    )
    old_values = changes.parameter_values(old_template, old_values)
    now = {
        getattr(resource, "logical_resource_id", "")
        for resource in stack.stack_resources
        if resource is not None
    }
    changed, removed = {}, []
    for resource in changes.template_diff(old_template, new_template, old_values, new_values):
        if resource.action == "Remove" and resource.logical_id in old_kinds:
            policy = (old_template["Resources"][resource.logical_id]).get("DeletionPolicy")
            retained = policy in ("Retain", "RetainExceptOnCreate")
            removed.append((resource.logical_id, resource.resource_type, retained))
        elif resource.logical_id in now:
            changed[resource.logical_id] = "CREATE" if resource.action == "Add" else "UPDATE"
    # What reads an attribute of an updated resource is updated after it (an Auto Scaling
    # group after its launch template's new version), as CloudFormation does.
    readers = {
        name: changes.attribute_references(resource)
        for name, resource in (new_template.get("Resources") or {}).items()
        if name in now
    }
    grew = True
    while grew:
        grew = False
        for name, reads in readers.items():
            if name not in changed and reads & set(changed):
                changed[name] = "UPDATE"
                grew = True
    steps = sandbox_pace.update_schedule(new_template, changed, removed, pace)
    if not steps or not stack.events or stack.events[-1].resource_status != "UPDATE_COMPLETE":
        return
    complete = stack.events.pop()  # the stack's UPDATE_COMPLETE, replayed at the end
    _start_replay(models, stack, steps, complete, "UPDATE", only_begun=False)


def _start_replay(
    models, stack, steps, complete, verb, *, only_begun, physical=None, on_end=None
) -> None:
    stack.status = f"{verb}_IN_PROGRESS"
    entry: tuple[bool, dict[str, str]] = (only_begun, {})
    with _PACED_LOCK:
        _PACED[stack.stack_id] = entry  # replaces an operation cut short (a create deleted)
    if physical is None:
        physical = _physical_ids(stack)
    threading.Thread(
        target=_replay,
        args=(models, stack, steps, complete, verb, physical, on_end, entry),
        daemon=True,
    ).start()


def _physical_ids(stack) -> dict[str, str]:
    """Physical id by logical id (read while the stack lives: moto makes resources of
    the template on demand when they are asked for)."""
    return {
        getattr(resource, "logical_resource_id", ""): getattr(resource, "physical_resource_id", "")
        for resource in stack.stack_resources
        if resource is not None
    }


def _replay(models, stack, steps, complete, verb, physical, on_end, entry) -> None:
    """Add the schedule's events as their time comes, then complete the stack; stop if
    the stack left <verb>_IN_PROGRESS meanwhile (deleted half-way)."""
    began = time.monotonic()
    in_progress = f"{verb}_IN_PROGRESS"
    try:
        for when, status, step in sandbox_pace.timeline(steps):
            time.sleep(max(0.0, began + when - time.monotonic()))
            if stack.status != in_progress:
                return
            event = models.Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=step.logical_id,
                physical_resource_id=physical.get(step.logical_id) or "",
                resource_type=step.resource_type,
                resource_status=status,
                resource_status_reason=None,
                resource_properties=None,
            )
            with _PACED_LOCK:
                entry[1][step.logical_id] = status
            stack.events.append(event)
        if stack.status == in_progress:
            complete.timestamp = models.utcnow()  # moto's own clock, as its events have
            stack.events.append(complete)
            stack.status = f"{verb}_COMPLETE"
    finally:
        with _PACED_LOCK:
            if _PACED.get(stack.stack_id) is entry:  # not a later operation's
                del _PACED[stack.stack_id]
        if on_end is not None:
            on_end()


# Headers only browsers send: boto3 and the wizard never do.
BROWSER_HEADERS = ("HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE")
LOCAL_HOSTNAMES = ("127.0.0.1", "localhost", "[::1]")


def refusal(environ: dict) -> str | None:
    """Why the sandbox refuses a request, or None to serve it.

    moto shows NoEcho parameters (the crypto key) in clear and, as shipped, answers
    any Host and any Origin with permissive CORS headers: a web page the user merely
    visits could read every sandbox stack's key or reset the sandbox. Only local
    programs are served: a loopback Host (no DNS rebinding) and no browser headers.
    """
    host = environ.get("HTTP_HOST", "")
    hostname = host.rpartition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    if hostname.lower() not in LOCAL_HOSTNAMES:
        return f"The sandbox answers only on 127.0.0.1, not as {host!r}."
    if any(header in environ for header in BROWSER_HEADERS):
        return "The sandbox answers local programs only, not web pages."
    return None


def serve(argv: list[str]) -> None:
    """Run moto's server with ``patch_moto`` applied (the sandbox's subprocess), for
    local programs only (``refusal``)."""
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "1"  # read when moto's server is imported
    proof_key = os.environ.pop(PROOF_KEY_VARIABLE, "")
    patch_moto()
    from moto import server

    class LocalOnly(server.DomainDispatcherApplication):
        def __call__(self, environ, start_response):
            reason = refusal(environ)
            if reason is None and proof_key and environ.get("PATH_INFO") == PROOF_PATH:
                query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
                answer = _proof(proof_key, (query.get("challenge") or [""])[0])
                start_response("200 OK", [("Content-Type", "text/plain; charset=ascii")])
                return [answer.encode()]
            if reason is None:
                return super().__call__(environ, start_response)
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [reason.encode()]

    server.DomainDispatcherApplication = LocalOnly
    server.main(argv)


def start(host: str = "127.0.0.1", port: int = 0) -> Sandbox:
    """Start moto's server (``serve``: moto's, with ``patch_moto``) and wait until it answers.

    Port 0 picks a free port. Raises ``RuntimeError`` when it does not start.
    """
    for _attempt in range(3):  # a free port may be taken between the check and the bind
        chosen = port or _free_port(host)
        env = {**os.environ, **{k.upper(): v for k, v in CREDENTIALS.items()}}
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        env["MOTO_PORT"] = str(chosen)
        proof_key = env[PROOF_KEY_VARIABLE] = secrets.token_urlsafe(32)
        # moto's request recorder (used by benchmarks/load.py) writes request bodies
        # to a file: keep it in the temporary folder, out of the working tree.
        env.setdefault(
            "MOTO_RECORDER_FILEPATH",
            str(Path(tempfile.gettempdir()) / f"pushstack-moto-recording-{os.getuid()}"),
        )
        # The server imports pushstack.sandbox (``serve``), from any working directory.
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (package_root, env.get("PYTHONPATH", "")) if part
        )
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            [sys.executable, "-c", SERVE, "-H", host, "-p", str(chosen)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        url = f"http://{host}:{chosen}"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(url, proof_key) and process.poll() is None:
                return Sandbox(process, url)
            time.sleep(0.1)
        Sandbox(process, url).stop()
        if port:
            break
    raise RuntimeError(
        f"The sandbox (moto server) did not start on {host}:{port or 'a free port'} "
        "(or another program answers on that port)."
    )


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared() -> Sandbox:
    """This process's own sandbox, started on first call and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = start()
            atexit.register(_shared.stop)
        return _shared


def stop_shared() -> None:
    """Stop this process's own sandbox, if it started one."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


def _session(url: str, region: str):
    config = Config(
        retries={"mode": "standard", "max_attempts": 3}, s3={"addressing_style": "path"}
    )

    def client(service: str):
        return boto3.client(
            service, region_name=region, endpoint_url=url, config=config, **CREDENTIALS
        )

    return client


class _SeedLock:
    """One seeding at a time per sandbox, across the wizard's worker processes."""

    def __init__(self, url: str):
        netloc = urlsplit(url).netloc.replace(":", "_") or "sandbox"
        self.path = Path(tempfile.gettempdir()) / f"pushstack-sandbox-{netloc}.lock"

    def __enter__(self):
        self.file = self.path.open("a")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def _tagged(ec2, kind: str, role: str) -> list[dict]:
    filters = [{"Name": f"tag:{NETWORK_TAG}", "Values": [role]}]
    if kind == "vpc":
        return ec2.describe_vpcs(Filters=filters)["Vpcs"]
    return ec2.describe_subnets(Filters=filters)["Subnets"]


def _tags(role: str, name: str) -> list[dict]:
    return [{"Key": NETWORK_TAG, "Value": role}, {"Key": "Name", "Value": name}]


def _network(ec2) -> tuple[str, list[str], list[str]]:
    """The sandbox VPC and its subnets, created when missing."""
    vpcs = _tagged(ec2, "vpc", "network")
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
        public = sorted(s["SubnetId"] for s in _tagged(ec2, "subnet", "public"))
        private = sorted(s["SubnetId"] for s in _tagged(ec2, "subnet", "private"))
        if len(public) >= 2 and len(private) >= 2:
            return vpc_id, public, private
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock=VPC_CIDR,
            TagSpecifications=[
                {"ResourceType": "vpc", "Tags": _tags("network", "pushstack sandbox")}
            ],
        )["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    public_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    public, private = [], []
    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=PUBLIC_CIDRS[index],
            AvailabilityZone=zone,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": _tags("public", f"public {zone}")}
            ],
        )["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
        ec2.associate_route_table(RouteTableId=public_table, SubnetId=subnet)
        public.append(subnet)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=allocation)["NatGateway"][
        "NatGatewayId"
    ]
    private_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=PRIVATE_CIDRS[index],
            AvailabilityZone=zone,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": _tags("private", f"private {zone}")}
            ],
        )["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=private_table, SubnetId=subnet)
        private.append(subnet)
    return vpc_id, sorted(public), sorted(private)


def _route_tables(ec2, subnet_ids: list[str]) -> tuple[str, ...]:
    """The route tables the subnets are associated with."""
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": list(subnet_ids)}]
    )["RouteTables"]
    return tuple(sorted({table["RouteTableId"] for table in tables}))


def _self_signed_certificate() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERTIFICATE_DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(CERTIFICATE_DOMAIN), x509.DNSName(f"*.{CERTIFICATE_DOMAIN}")]
            ),
            False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def _certificate(acm) -> str:
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        if summary.get("DomainName") == CERTIFICATE_DOMAIN:
            return summary["CertificateArn"]
    body, key = _self_signed_certificate()
    return acm.import_certificate(Certificate=body, PrivateKey=key)["CertificateArn"]


def _hosted_zone(route53) -> str:
    """The sandbox's public hosted zone (Route 53 is global: one for every region)."""
    zones = route53.list_hosted_zones_by_name(DNSName=f"{DOMAIN}.")["HostedZones"]
    for zone in zones:
        if zone["Name"] == f"{DOMAIN}." and not zone.get("Config", {}).get("PrivateZone"):
            return zone["Id"].rsplit("/", 1)[-1]
    zone = route53.create_hosted_zone(Name=f"{DOMAIN}.", CallerReference=f"pushstack-{DOMAIN}")
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1]


def _bucket(s3, name: str, region: str) -> str:
    try:
        s3.head_bucket(Bucket=name)
        return name
    except s3.exceptions.ClientError:
        pass
    extra = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    s3.create_bucket(Bucket=name, **extra)
    # As pushstack.cloud creates it in AWS: encrypted, never public.
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return name


def seed(url: str, region: str) -> SandboxNetwork:
    """Create, once, the sandbox network (a VPC with public and private subnets in two
    zones), the artifacts/code bucket and an ACM certificate in ``region``, and a public
    hosted zone of ``DOMAIN`` that the certificate covers."""
    client = _session(url, region)
    account = client("sts").get_caller_identity()["Account"]
    with _SeedLock(url):
        vpc_id, public, private = _network(client("ec2"))
        certificate_arn = _certificate(client("acm"))
        bucket = _bucket(client("s3"), artifacts.bucket_name(account, region), region)
        zone = _hosted_zone(client("route53"))
        tables = _route_tables(client("ec2"), private)
    return SandboxNetwork(
        vpc_id, tuple(public), tuple(private), certificate_arn, bucket, zone, DOMAIN, tables
    )


def find(url: str, region: str) -> SandboxNetwork | None:
    """What ``seed`` made in ``region``, or None when it is not all there: reads only, so
    looking (a GET of the form) never creates anything in the sandbox."""
    client = _session(url, region)
    ec2 = client("ec2")
    vpcs = _tagged(ec2, "vpc", "network")
    public = sorted(s["SubnetId"] for s in _tagged(ec2, "subnet", "public"))
    private = sorted(s["SubnetId"] for s in _tagged(ec2, "subnet", "private"))
    if not vpcs or len(public) < 2 or len(private) < 2:
        return None
    certificates = client("acm").list_certificates()["CertificateSummaryList"]
    certificate = next(
        (c["CertificateArn"] for c in certificates if c.get("DomainName") == CERTIFICATE_DOMAIN),
        None,
    )
    account = client("sts").get_caller_identity()["Account"]
    bucket = artifacts.bucket_name(account, region)
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        return None
    zones = client("route53").list_hosted_zones_by_name(DNSName=f"{DOMAIN}.")["HostedZones"]
    zone = next(
        (
            z["Id"].rsplit("/", 1)[-1]
            for z in zones
            if z["Name"] == f"{DOMAIN}." and not z.get("Config", {}).get("PrivateZone")
        ),
        None,
    )
    if certificate is None or zone is None:
        return None
    tables = _route_tables(ec2, private)
    return SandboxNetwork(
        vpcs[0]["VpcId"], tuple(public), tuple(private), certificate, bucket, zone, DOMAIN, tables
    )


def reset(url: str, region: str = "us-east-1") -> SandboxNetwork:
    """Forget everything (moto's reset API), then seed ``region`` again."""
    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with _LOCAL.open(request, timeout=30):
        pass
    return seed(url, region)


def main() -> None:
    sandbox = start(port=int(os.environ.get("PUSHSTACK_SANDBOX_PORT", "0")))
    print(sandbox.url, flush=True)
    # Stopped with SIGTERM (kill, a service manager): stop the server too, not orphan it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sandbox.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
