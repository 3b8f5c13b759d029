"""autopush-rs's template: its store, its images and how its nodes wait for both."""

import json

import pytest
from variants import VARIANTS

from pushstack.options import AUTOPUSH_RS_COMMIT, AUTOPUSH_RS_VERSION
from pushstack.template import build_template
from pushstack.template.common import ROUTER_PORT


@pytest.fixture(scope="module", params=["rs", "rs-tls-ssh-images"])
def rs(request):
    options = VARIANTS[request.param]
    return options, build_template(options).to_dict()


def resource(t, name):
    return t["Resources"][name]


def test_the_store_is_valkey_encrypted_at_rest_snapshotted_and_kept(rs):
    options, t = rs
    store = resource(t, "PushStore")
    props = store["Properties"]
    assert store["Type"] == "AWS::ElastiCache::ReplicationGroup"
    assert props["Engine"] == "valkey" and props["AtRestEncryptionEnabled"] is True
    # autopush-rs 1.83.1's redis client has no TLS: a rediss:// address would fail.
    assert props["TransitEncryptionEnabled"] is False
    assert props["SnapshotRetentionLimit"] >= 1
    replica = not options.store_single_node
    assert props["NumCacheClusters"] == (2 if replica else 1)
    assert props["AutomaticFailoverEnabled"] is replica and props["MultiAZEnabled"] is replica
    for name in ("PushStore", "StoreSecurityGroup", "StoreSubnetGroup", "AuthKeySecret"):
        assert resource(t, name)["DeletionPolicy"] == "Retain", name
        assert resource(t, name)["UpdateReplacePolicy"] == "Retain", name


def test_only_the_push_nodes_reach_the_store(rs):
    _, t = rs
    assert resource(t, "StoreSecurityGroup")["Properties"]["SecurityGroupIngress"] == []
    rules = {
        name: r["Properties"]
        for name, r in t["Resources"].items()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Ref": "StoreSecurityGroup"}
    }
    sources = {rule["SourceSecurityGroupId"]["Ref"] for rule in rules.values()}
    assert sources == {"ConnectionNodeSecurityGroup", "EndpointNodeSecurityGroup"}
    assert all(rule["FromPort"] == rule["ToPort"] == 6379 for rule in rules.values())


def test_both_node_groups_reach_the_router_port_and_nothing_else_does(rs):
    """autoendpoint PUTs /push/<uaid>; autoconnect PUTs /notif/<uaid> to a client's
    previous node (autoconnect-ws-sm identified/mod.rs): both need port 8081."""
    _, t = rs
    for name in ("ConnectionLaunchTemplate", "EndpointLaunchTemplate"):
        groups = resource(t, name)["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]
        assert {"Ref": "InternalRouterSecurityGroup"} in groups["Groups"]
    router = [
        (name, rule)
        for name, sg in t["Resources"].items()
        if sg["Type"] == "AWS::EC2::SecurityGroup"
        for rule in sg["Properties"]["SecurityGroupIngress"]
        if rule["FromPort"] <= ROUTER_PORT <= rule["ToPort"]
    ]
    assert [(name, rule["SourceSecurityGroupId"]) for name, rule in router] == [
        ("ConnectionNodeSecurityGroup", {"Ref": "InternalRouterSecurityGroup"})
    ]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_connection_nodes_reach_each_other_on_the_router_port_in_every_variant(name):
    """#15 item 1: autopush 1.57.0 DELETEs /notif/<uaid>/<connected_at> on a client's
    previous node and PUTs /notif/<uaid>; autopush-rs PUTs /notif/<uaid>."""
    t = build_template(VARIANTS[name]).to_dict()
    data = resource(t, "ConnectionLaunchTemplate")["Properties"]["LaunchTemplateData"]
    groups = data["NetworkInterfaces"][0]["Groups"]
    assert {"Ref": "InternalRouterSecurityGroup"} in groups
    rules = resource(t, "ConnectionNodeSecurityGroup")["Properties"]["SecurityGroupIngress"]
    router = [
        r for r in rules if r.get("SourceSecurityGroupId") == {"Ref": "InternalRouterSecurityGroup"}
    ]
    assert [(r["FromPort"], r["ToPort"]) for r in router] == [(ROUTER_PORT, ROUTER_PORT)]


def test_health_checks_ask_the_heartbeat_autopush_rs_serves(rs):
    _, t = rs
    for group in ("Connection", "Endpoint"):
        props = resource(t, f"{group}TargetGroup")["Properties"]
        assert props["HealthCheckPath"] == "/__lbheartbeat__"
        assert props["Matcher"] == {"HttpCode": "200"}
    for balancer in ("ConnectionLoadBalancer", "EndpointLoadBalancer"):
        attributes = {
            a["Key"]: a["Value"]
            for a in resource(t, balancer)["Properties"]["LoadBalancerAttributes"]
        }
        # autopush-rs pings idle clients every 300 s: an hour's idle timeout keeps them.
        assert int(attributes["idle_timeout.timeout_seconds"]) >= 3600


def test_no_dynamodb_and_no_log_processing(rs):
    _, t = rs
    kinds = {r["Type"] for r in t["Resources"].values()}
    assert "AWS::DynamoDB::Table" not in kinds
    assert "AWS::KinesisFirehose::DeliveryStream" not in kinds
    statements = json.dumps(t["Resources"]["PushNodeRole"])
    assert "dynamodb" not in statements and "firehose" not in statements


def build_parts(t):
    project = resource(t, "ImageBuildProject")["Properties"]
    return project, json.loads(project["Source"]["BuildSpec"])  # JSON is YAML


def test_the_stack_builds_both_images_from_the_pinned_release():
    t = build_template(VARIANTS["rs"]).to_dict()
    repository = resource(t, "ImageRepository")["Properties"]
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert {r["action"]["type"] for r in rules} == {"expire"} and len(rules) == 3
    project, spec = build_parts(t)
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["VERSION"] == AUTOPUSH_RS_VERSION == "1.83.1"
    assert variables["COMMIT"] == AUTOPUSH_RS_COMMIT
    assert project["Environment"]["PrivilegedMode"] is True
    script = spec["phases"]["build"]["commands"][0]
    assert '[ "$(git -C src rev-parse HEAD)" = "$COMMIT" ]' in script  # a moved tag fails
    assert "--no-default-features --features redis" in script
    assert "for program in autoconnect autoendpoint" in script
    answer = spec["phases"]["post_build"]["commands"][0]
    assert "CODEBUILD_BUILD_SUCCEEDING" in answer and '"$RESPONSE_URL"' in answer
    # The build must end before CloudFormation gives up on the custom resource.
    build = resource(t, "ImageBuild")
    assert project["TimeoutInMinutes"] * 60 < build["Properties"]["ServiceTimeout"] <= 3600
    for group in ("ConnectionNodes", "EndpointNodes"):
        assert set(resource(t, group)["DependsOn"]) == {"PushStore", "ImageBuild"}


def test_given_images_build_nothing_and_are_used_as_given():
    t = build_template(VARIANTS["rs-tls-ssh-images"]).to_dict()
    for name in ("ImageRepository", "ImageBuildProject", "ImageBuild"):
        assert name not in t["Resources"]
    assert {"AutoconnectImage", "AutoendpointImage"} <= set(t["Parameters"])
    for group in ("ConnectionNodes", "EndpointNodes"):
        assert resource(t, group)["DependsOn"] == ["PushStore"]


class _CodeBuild:
    def __init__(self, fail=False):
        self.fail, self.started = fail, []

    def start_build(self, **kwargs):
        if self.fail:
            raise RuntimeError("AccessDenied")
        self.started.append(kwargs)
        return {"build": {"id": "b:1"}}


def run_starter(request_type, fail=False):
    """The trigger's code from the template, with CodeBuild and the response URL faked."""
    import sys
    import types
    import urllib.request

    code = build_template(VARIANTS["rs"]).to_dict()["Resources"]["ImageBuildStarterFunction"]
    codebuild, answers = _CodeBuild(fail), []
    saved = sys.modules.get("boto3")
    sys.modules["boto3"] = types.SimpleNamespace(client=lambda name: codebuild)
    opened = urllib.request.urlopen
    urllib.request.urlopen = lambda request, timeout: answers.append(json.loads(request.data))
    try:
        namespace = {}
        exec(code["Properties"]["Code"]["ZipFile"], namespace)
        event = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-response.example/x",
            "StackId": "arn:aws:cloudformation:us-west-2:1:stack/s/1",
            "RequestId": "r1",
            "LogicalResourceId": "ImageBuild",
            "ResourceProperties": {"ProjectName": "autopush-rs-build-1"},
        }
        namespace["handler"](event, None)
    finally:
        urllib.request.urlopen = opened
        if saved is None:
            sys.modules.pop("boto3", None)
        else:
            sys.modules["boto3"] = saved
    return codebuild.started, answers


def test_the_trigger_starts_the_build_and_leaves_the_answer_to_it():
    started, answers = run_starter("Create")
    assert answers == []  # the build answers when its images are pushed
    [build] = started
    given = {v["name"]: v["value"] for v in build["environmentVariablesOverride"]}
    assert given["RESPONSE_URL"] == "https://cloudformation-response.example/x"
    assert given["REQUEST_ID"] == "r1" and build["projectName"] == "autopush-rs-build-1"


def test_the_trigger_fails_at_once_when_the_build_cannot_start():
    started, answers = run_starter("Create", fail=True)
    assert not started and answers[0]["Status"] == "FAILED"
    assert "AccessDenied" in answers[0]["Reason"]


def test_a_delete_answers_at_once_and_builds_nothing():
    started, answers = run_starter("Delete")
    assert not started and answers[0]["Status"] == "SUCCESS"
