"""Launch a previewed stack, watch it, list, update and delete stacks, recover stuck ones.

Every page asks CloudFormation (through ``webapp.cloud``) for the state it
shows; nothing is kept here. Every AWS failure is shown as what happened and
what to do (``CloudError.message`` and ``.advice``), never as a 500.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import shlex
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from pushstack import cost, render
from pushstack.cloud import LAUNCH_ID_TAG, Cloud, CloudError
from pushstack.cloud.errors import DENIED_CODES, THROTTLING_CODES
from pushstack.cloud.ownership import NOT_PUSHSTACKS
from pushstack.options import (
    LEGACY,
    REGIONS,
    SPECS,
    Options,
    OptionsError,
    from_input,
    generate_table_prefix,
)
from pushstack.template import build_template
from webapp import checks, costs, store
from webapp.cloud import get_access
from webapp.forms import CHOICES_EXPLAINED, share_query, unknown_network
from webapp.limits import RATE_LIMITED
from webapp.preview_cache import shape_key
from webapp.stack_forms import (
    ContinueRollbackForm,
    DeleteForm,
    ExecuteForm,
    LaunchForm,
    TablePrefixForm,
    UpdateForm,
    update_form_data,
)

bp = Blueprint("stacks", __name__)

_NO_STORE = {"Cache-Control": "no-store"}
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
STACK_ID = re.compile(
    r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[A-Za-z0-9-]+/[0-9a-f-]+"
)
CHANGE_SET_ID = re.compile(r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:changeSet/\S+")

# What the template keeps on delete (DeletionPolicy Retain), in the user's words.
RETAINED_TYPES = {
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::SQS::Queue": "failure queue",
    "AWS::SecretsManager::Secret": "crypto key secret",
    "AWS::S3::Bucket": "log bucket",
}
# Kept resources of types a stack also has unretained, or named apart (autopush-rs's).
RETAINED_IDS = {
    "PushStore": "push store (ElastiCache for Valkey)",
    "StoreSubnetGroup": "push store's subnet group",
    "StoreSecurityGroup": "push store's security group",
    "AuthKeySecret": "auth key secret",
}
# What keeps costing money while the stack runs, in the user's words.
COSTLY_TYPES = {
    "AWS::AutoScaling::AutoScalingGroup": "EC2 instances (Auto Scaling groups)",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load balancers",
    "AWS::DynamoDB::Table": "DynamoDB tables (per request and per GB stored)",
    "AWS::ElastiCache::CacheCluster": "an ElastiCache Redis node",
    "AWS::ElastiCache::ReplicationGroup": "ElastiCache nodes (the store, or the Messages API's Redis)",
    "AWS::CodeBuild::Project": "a CodeBuild image build (on create and on a new release)",
    "AWS::KinesisFirehose::DeliveryStream": "a Firehose delivery stream",
    "AWS::S3::Bucket": "S3 storage",
    "AWS::SecretsManager::Secret": "a Secrets Manager secret",
    "AWS::Lambda::Function": "Lambda invocations",
}
# Stuck states and the way out of each.
RECOVERY = {
    "ROLLBACK_COMPLETE": "delete",
    "ROLLBACK_FAILED": "delete",
    "DELETE_FAILED": "delete",
    "UPDATE_ROLLBACK_FAILED": "continue_rollback",
}


# Whether a change replaces its resource, in the same words for AWS's resource-level
# answer (True/False/Conditional) and the properties' (Always/Never/Conditionally).
REPLACEMENT_WORDS = {
    "True": "Yes",
    "Always": "Yes",
    "False": "No",
    "Never": "No",
    "Conditional": "Conditional",
    "Conditionally": "Conditional",
}


@bp.app_template_filter("replacement_word")
def replacement_word(value: str) -> str:
    return REPLACEMENT_WORDS.get(str(value or ""), str(value or ""))


@bp.app_template_filter("type_name")
def type_name(resource_type: str) -> Markup:
    """A resource type that may wrap only after its ``::`` (never inside a word)."""
    return Markup("::<wbr>").join(str(resource_type).split("::"))


def _recovery(stack, progress) -> str | None:
    """The way out of a stuck state; a create the sandbox abandoned half-way (it will
    never finish) is deleted, then launched again, like a rolled-back one."""
    if stack.status == "CREATE_IN_PROGRESS" and progress is not None and progress.finished:
        return "delete"
    return RECOVERY.get(stack.status)


# Launch, from the preview.


@bp.post("/preview/<preview_id>/launch")
def launch(preview_id: str):
    options = store.recall(preview_id)
    if options is None:
        return render_template("expired.html"), 404, _NO_STORE
    form = LaunchForm()
    facts = launch_facts(options)
    if not form.validate_on_submit():
        return _launch_page(form, options, preview_id, facts), 422
    access = get_access()
    token = launch_id(preview_id)
    try:
        cloud = access.cloud(options.region)
        with access.operation_lock(f"{cloud.region}/{options.stack_name}"):
            cloud.launch(
                options,
                acknowledged=facts["capabilities"],
                termination_protection=form.termination_protection.data,
                launch_id=token,
            )
    except CloudError as exc:
        current_app.logger.info("launch of %s failed: %s", options.stack_name, exc.message)
        left = _left_behind(access, options, token)
        page = _launch_page(form, options, preview_id, facts, error=exc, left_behind=left)
        return page, _http_status(exc)
    access.changed(options.stack_name, options.region)
    return redirect(stack_url(options.stack_name, options.region), code=303)


def launch_id(preview_id: str) -> str:
    """The same for every submit of one preview: a double click makes one stack."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, preview_id.encode(), hashlib.sha256).hexdigest()[:32]


def launch_facts(options: Options) -> dict:
    """What the launch section states before the user acknowledges it; the same for
    every form of one template shape, so computed once per shape."""
    key = shape_key(options)
    with _FACTS_LOCK:
        facts = _FACTS.get(key)
    if facts is None:
        facts = _launch_facts(render.to_dict(build_template(options)))
        with _FACTS_LOCK:
            _FACTS[key] = facts
            while len(_FACTS) > 64:
                _FACTS.popitem(last=False)
    return facts


_FACTS: OrderedDict[tuple, dict] = OrderedDict()
_FACTS_LOCK = threading.Lock()


def _launch_facts(template: dict) -> dict:
    resources = template.get("Resources", {})
    types = [resource["Type"] for resource in resources.values()]
    iam_roles = sum(1 for kind in types if kind == "AWS::IAM::Role")
    costly = sorted({COSTLY_TYPES[kind] for kind in types if kind in COSTLY_TYPES})
    retained = [
        (
            logical_id,
            RETAINED_IDS.get(logical_id) or RETAINED_TYPES.get(resource["Type"], resource["Type"]),
        )
        for logical_id, resource in resources.items()
        if resource.get("DeletionPolicy") == "Retain"
    ]
    return {
        "capabilities": Cloud.required_capabilities(template),
        "iam_roles": iam_roles,
        "costly": costly,
        "retained": retained,
        "total": len(resources),
    }


def acknowledgement(facts: dict, target) -> str:
    """The launch checkbox's words: what this stack keeps on delete (only what it has),
    and money only where it costs money (not in the sandbox)."""
    kinds = {what for _, what in facts["retained"]}
    sandbox = target is not None and target.is_sandbox
    kept = [
        words
        for kind, words in (
            ("DynamoDB table", "its DynamoDB tables"),
            ("crypto key secret", "its crypto key's secret"),
            ("auth key secret", "its auth key's secret (AuthKeySecret)"),
            ("log bucket", "its log bucket"),
            ("failure queue", "its failure queue"),
            (
                RETAINED_IDS["PushStore"],
                "its Valkey store PushStore with its data, subnet group and security group "
                + (
                    "(in AWS the store is charged for until you remove it)"
                    if sandbox
                    else "(AWS charges for the store until you remove it)"
                ),
            ),
        )
        if kind in kinds
    ]
    if sandbox:
        text = "I understand: launching creates IAM roles and resources (in the sandbox, "
        text += "on this machine: nothing real, nothing charged)"
    else:
        text = "I understand: launching creates IAM roles and resources that AWS charges for "
        text += "while they run"
    if kept:
        listed = ", ".join(kept[:-1]) + (" and " if len(kept) > 1 else "") + kept[-1]
        text += f", and deleting the stack keeps {listed}"
    return text + "."


def _launch_page(
    form, options, preview_id, facts, error: CloudError | None = None, left_behind=False
):
    return render_template(
        "launch.html",
        form=form,
        options=options,
        preview_id=preview_id,
        launch=facts,
        estimate=cost.for_options(options),
        error=error,
        left_behind=left_behind,
        target=_target_or_none(),
        unknown=unknown_network(options),
        form_url=url_for("wizard.form", **share_query(options)),
        taken=taken_tables(options),
        prefix_form=TablePrefixForm(),
    )


def taken_tables(options: Options) -> tuple[str, ...]:
    """Tables a launch of these options would create that exist already; none when the
    target cannot be reached or read (the launch would tell). Asked once per request:
    the review and the launch section of one page both show it."""
    key = (options.region, options.table_prefix, options.reuse_tables)
    asked = g.setdefault("taken_tables", {})
    if key not in asked:
        try:
            asked[key] = get_access().cloud(options.region).taken_tables(options)
        except CloudError:
            asked[key] = ()
    return asked[key]


@bp.post("/preview/<preview_id>/table-prefix")
def table_prefix(preview_id: str):
    """The same preview (crypto key included) reusing the existing tables, or with a
    fresh table prefix: one click from the warning that the prefix is taken."""
    options = store.recall(preview_id)
    if options is None:
        return render_template("expired.html"), 404, _NO_STORE
    form = TablePrefixForm()
    if not form.validate_on_submit() or form.choice.data not in ("reuse", "new"):
        return redirect(url_for("preview.show", preview_id=preview_id), code=303)
    if form.choice.data == "reuse":
        if len(taken_tables(options)) < 2:  # reusing needs both tables: the preview says which
            return redirect(url_for("preview.show", preview_id=preview_id, _anchor="launch"), 303)
        changed = dataclasses.replace(options, reuse_tables=True)
    else:
        changed = dataclasses.replace(options, table_prefix=generate_table_prefix())
    new_id = store.remember(changed)
    return redirect(url_for("preview.show", preview_id=new_id, _anchor="launch"), code=303)


def _left_behind(access, options: Options, token: str) -> bool:
    """Whether a failed launch still left its stack (the sandbox creates the stack, then
    fails on a wrong reference and abandons it half-way): the page links to it, to delete it."""
    try:
        stack = access.cloud(options.region).stack(options.stack_name)
    except CloudError:
        return False
    return stack.tags.get(LAUNCH_ID_TAG) == token


@bp.app_context_processor
def _launch_section():
    """What ``_launch.html`` needs, inside the preview page that includes it."""

    def launch_section(options: Options) -> dict:
        return {
            "form": LaunchForm(),
            "facts": launch_facts(options),
            "estimate": cost.for_options(options),
            "target": _target_or_none(),
            "unknown": unknown_network(options),
            "form_url": url_for("wizard.form", **share_query(options)),
            "taken": taken_tables(options),
            "prefix_form": TablePrefixForm(),
        }

    return {
        "launch_section": launch_section,
        "acknowledgement": acknowledgement,
        "taken_tables": taken_tables,
    }


# Watching.


@bp.get("/stacks")
def index():
    region = _region()
    try:
        stacks = get_access().cloud(region).list_stacks()
    except CloudError as exc:
        return _error_page("Stacks could not be listed", exc)
    now = datetime.now(UTC)
    return (
        render_template(
            "stacks.html",
            stacks=stacks,
            region=region,
            shown_region=region or get_access().target().region,
            regions=REGIONS,
            age=lambda when: _age(when, now),
        ),
        200,
        _NO_STORE,
    )


@bp.get("/stacks/<name>")
def show(name: str):
    region = _region()
    ref = _stack_ref(name)
    access = get_access()
    try:
        cloud = access.cloud(region)
        stack = cloud.stack(ref)
    except CloudError as exc:
        return _error_page(f"Stack {name}", exc, name=name, region=region)
    # The stack was found: a failure of the other reads leaves the rest of the page useful.
    problems = []
    progress, resources = None, []
    try:
        progress = access.watch(ref, region)
        if progress.status != stack.status:
            # Read before an operation another process started (an update applied by
            # another worker): the page would show the old end and never follow the new one.
            access.changed(ref, region)
            progress = access.watch(ref, region)
    except CloudError as exc:
        problems.append(exc)
    try:
        resources = cloud.resources(ref)
    except CloudError as exc:
        problems.append(exc)
    target = access.target()
    return (
        render_template(
            "stack.html",
            stack=stack,
            failure_queue=checks.failure_queue(stack.shown_output_values, region),
            progress=progress,
            resources=resources,
            problems=problems,
            region=region,
            target=target,
            recovery=_recovery(stack, progress),
            retained=retained_resources(resources, stack),
            relaunch_url=_relaunch_url(),
            api_url=url_for("stacks.api", name=name, **_ref_args(ref, name, region)),
            rollback_form=_rollback_form(resources),
            endpoint_flag=_endpoint_flag(target),
            discarded=request.args.get("discarded") == "1",
        ),
        200,
        _NO_STORE,
    )


@bp.get("/api/stacks/<name>")
def api(name: str):
    """The stack's progress as JSON, shared by every watcher of this process."""
    region = _region()
    ref = _stack_ref(name)
    try:
        progress = get_access().watch(ref, region)
    except CloudError as exc:
        return _api_error(name, exc)
    data = progress.as_dict()
    # The processor's failure queue: its depth (or why it could not be read); null without.
    queue = progress.shown_outputs  # none until the operation finished successfully
    data["failure_queue"] = checks.failure_queue_json(checks.failure_queue(queue or {}, region))
    response = jsonify(data)
    response.headers.update(_NO_STORE)
    return response


def _api_error(name: str, exc: CloudError):
    status = _http_status(exc)
    response = jsonify(
        name=name, error=exc.message, advice=exc.advice, code=exc.code, retry=status >= 429
    )
    response.status_code = status
    if status == 429:
        response.headers["Retry-After"] = "10"
    response.headers.update(_NO_STORE)
    return response


# Update: the form from the stack's values, the change set, then execute.


@bp.route("/stacks/<name>/update", methods=["GET", "POST"])
def update(name: str):
    region = _region()
    cloud = None
    try:
        cloud = get_access().cloud(region)
        stack = cloud.stack(name)
        values = cloud.stack_options(name) if request.method == "GET" else {}
    except CloudError as exc:
        return _error_page(f"Update of {name}", exc, name=name, region=region)
    form = UpdateForm(data=update_form_data(values), stack_name=name, region=cloud.region)
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else 422
        capabilities = update_capabilities(form, cloud, name)
        return _update_page(form, stack, region, capabilities), status, _NO_STORE
    options = form.options
    template = render.to_dict(build_template(options))
    capabilities = Cloud.required_capabilities(template)
    try:
        change_set_id = cloud.create_change_set(
            name,
            options,
            keep_crypto_key=form.keeps_crypto_key,
            acknowledged=capabilities,
        )
    except CloudError as exc:
        page = _update_page(form, stack, region, capabilities, error=exc)
        return page, _http_status(exc), _NO_STORE
    risks = update_risks(stack, options, new_key=not form.keeps_crypto_key)
    return redirect(
        url_for(
            "stacks.change_set",
            name=name,
            id=change_set_id,
            risk=risks,
            **_region_args(region),
        ),
        code=303,
    )


# What an update's new values put at risk, whatever the change set lists (the
# sandbox lists no change for new parameter values).
UPDATE_RISKS = {
    "table_prefix": "The table prefix changes: the stack would use new, empty tables. The "
    "old tables are kept, but the service would no longer read its subscriptions from them.",
    "log_bucket": "Log processing is turned off: the log bucket leaves the stack. It is kept, "
    "with its logs, but nothing writes to it any more.",
    "crypto_key": "A new crypto key list: subscriptions made with the old key stay readable "
    "only if the old key is still in the list (after the new one).",
    "reuse_tables": "The stack would stop creating its own tables and use existing ones: its "
    "current tables leave the stack (they are kept).",
    "engine_rs": "The engine changes to autopush-rs: the stack creates a new, empty Valkey "
    "store and builds the engine's images (about 30 minutes) before replacing the nodes. "
    "The DynamoDB tables leave the stack but are kept in your account, no longer read: "
    "every client's subscriptions stay behind in them. Browsers and apps reconnect, get a "
    "new identity and must subscribe again; old endpoint URLs stop working.",
    "engine_legacy": "The engine changes back to autopush 1.57.0: it reads the DynamoDB tables "
    "of the table prefix, not the Valkey store (which is kept): subscriptions made while "
    "autopush-rs ran are not in them.",
}


def _engine_of(stack) -> str:
    """The stack's engine: its Engine parameter; before that option, autopush 1.57.0."""
    return stack.parameters.get("Engine") or LEGACY


def update_risks(stack, options: Options, *, new_key: bool) -> list[str]:
    """Codes (keys of ``UPDATE_RISKS``) of what the new values put at risk."""
    risks = []
    if _engine_of(stack) != options.engine:
        risks.append("engine_rs" if options.rs else "engine_legacy")
    current_prefix = stack.parameters.get("TablePrefix")
    if current_prefix and not options.rs and current_prefix != options.table_prefix:
        risks.append("table_prefix")
    outputs = {*stack.output_values, *(stack.missing_outputs or ())}
    if "LogBucketName" in outputs and not options.firehose:
        risks.append("log_bucket")
    if new_key:
        risks.append("crypto_key")
    if options.reuse_tables and "RouterTableName" in outputs:
        risks.append("reuse_tables")
    return risks


def update_capabilities(form, cloud: Cloud, name: str) -> tuple[str, ...]:
    """The capabilities the acknowledgement grants: those of the template the form's
    values make (its shape only: no key is needed), else of the stack's current values."""
    typed = {**form.option_input(), **form.fixed, "crypto_key": "", "reuse_tables": False}
    try:
        return launch_facts(from_input(typed))["capabilities"]
    except OptionsError:
        pass
    try:
        current = {**cloud.stack_options(name), **form.fixed, "crypto_key": ""}
        return launch_facts(from_input({**current, "reuse_tables": False}))["capabilities"]
    except (OptionsError, CloudError):
        return ()


def _update_page(form, stack, region, capabilities=(), error: CloudError | None = None):
    return render_template(
        "update.html",
        form=form,
        stack=stack,
        region=region,
        error=error,
        capabilities=capabilities,
        explained=CHOICES_EXPLAINED,
    )


@bp.get("/stacks/<name>/change-set")
def change_set(name: str):
    region = _region()
    change_set_id = request.args.get("id", "")
    if not CHANGE_SET_ID.fullmatch(change_set_id):
        return _error_page(
            "No such change set", _not_found("This change set address is incomplete.")
        )
    try:
        cloud = get_access().cloud(region)
        view = cloud.change_set(change_set_id, name)
    except CloudError as exc:
        return _error_page(f"Changes to {name}", _change_set_gone(exc), name=name, region=region)
    form = ExecuteForm(data={"change_set_id": change_set_id})
    risks = [UPDATE_RISKS[code] for code in request.args.getlist("risk") if code in UPDATE_RISKS]
    extras = costs.change_set_context(cloud, name, change_set_id) if not view.pending else {}
    page = render_template(
        "change_set.html",
        name=name,
        region=region,
        change_set=view,
        form=form,
        risks=risks,
        **extras,
    )
    return page, 200, _NO_STORE


@bp.post("/stacks/<name>/change-set/execute")
def execute(name: str):
    region = _region()
    form = ExecuteForm()
    change_set_id = form.change_set_id.data or ""
    if not form.validate_on_submit() or not CHANGE_SET_ID.fullmatch(change_set_id):
        return _error_page("No such change set", _not_found("Open the change set again."))
    access = get_access()
    try:
        access.cloud(region).execute_change_set(change_set_id, name)
    except CloudError as exc:
        return _error_page(f"Update of {name}", _change_set_gone(exc), name=name, region=region)
    access.changed(name, region)
    return redirect(stack_url(name, region), code=303)


@bp.post("/stacks/<name>/change-set/discard")
def discard(name: str):
    """DeleteChangeSet: the stack stays as it is."""
    region = _region()
    form = ExecuteForm()
    change_set_id = form.change_set_id.data or ""
    if not form.validate_on_submit() or not CHANGE_SET_ID.fullmatch(change_set_id):
        return _error_page("No such change set", _not_found("Open the change set again."))
    try:
        get_access().cloud(region).delete_change_set(change_set_id, name)
    except CloudError as exc:
        return _error_page(f"Changes to {name}", _change_set_gone(exc), name=name, region=region)
    return redirect(url_for("stacks.show", name=name, discarded="1", **_region_args(region)), 303)


# Delete and recovery.


@bp.route("/stacks/<name>/delete", methods=["GET", "POST"])
def delete(name: str):
    region = _region()
    access = get_access()
    try:
        cloud = access.cloud(region)
        stack = cloud.stack(name)
        resources = cloud.resources(name)
    except CloudError as exc:
        return _error_page(f"Delete {name}", exc, name=name, region=region)
    form = DeleteForm(stack_name=stack.name)
    blocking = [r for r in resources if r.status == "DELETE_FAILED"]
    form.retain.choices = [(r.logical_id, r.logical_id) for r in blocking]
    relaunch = request.values.get("relaunch") == "1"
    if request.method == "GET" or not form.validate_on_submit():
        retained = retained_resources(resources, stack)
        kept = {item["logical_id"] for item in retained}
        return (
            render_template(
                "delete.html",
                stack=stack,
                region=region,
                form=form,
                blocking=blocking,
                deleted=[r for r in resources if r.logical_id not in kept],
                retained=retained,
                store_kept=any(item["logical_id"] == "PushStore" for item in retained),
                relaunch=relaunch,
                target=access.target(),
                endpoint_flag=_endpoint_flag(access.target()),
            ),
            (200 if request.method == "GET" else 422),
            _NO_STORE,
        )
    again = ""
    if relaunch:
        try:
            again = _relaunch_query(cloud.stack_options(name))
        except CloudError:
            again = urlencode({"stack_name": name, "region": region})
    try:
        cloud.delete(name, retain=form.retain.data or ())
    except CloudError as exc:
        return _error_page(f"Delete {name}", exc, name=name, region=region)
    access.changed(name, region)
    args = {"id": stack.stack_id, **_region_args(region)}
    if again:
        args["again"] = again
    return redirect(url_for("stacks.show", name=name, **args), code=303)


@bp.post("/stacks/<name>/continue-rollback")
def continue_rollback(name: str):
    region = _region()
    access = get_access()
    try:
        cloud = access.cloud(region)
        form = _rollback_form(cloud.resources(name))
        if not form.validate_on_submit():
            return _error_page("The form has expired", _not_found("Open the stack again."))
        cloud.continue_update_rollback(name, skip=form.skip.data or ())
    except CloudError as exc:
        return _error_page(f"Rollback of {name}", exc, name=name, region=region)
    access.changed(name, region)
    return redirect(stack_url(name, region), code=303)


def _rollback_form(resources) -> ContinueRollbackForm:
    form = ContinueRollbackForm()
    form.skip.choices = [
        (r.logical_id, f"{r.logical_id} ({r.resource_type}): {r.reason or r.status}")
        for r in resources
        if r.status == "UPDATE_FAILED"
    ]
    return form


def retained_resources(resources, stack=None) -> list[dict]:
    """What a delete keeps, with its name and the command that removes it."""
    outputs = stack.output_values if stack else {}
    kept = []
    for resource in resources:
        if not resource.retained:
            continue  # the deployed template's DeletionPolicy decides, not the type
        what = (
            RETAINED_IDS.get(resource.logical_id)
            or RETAINED_TYPES.get(resource.resource_type)
            or resource.resource_type
        )
        physical = resource.physical_id
        if not physical and resource.logical_id == "CryptoKeySecret":
            physical = outputs.get("CryptoKeySecretArn", "")
        kept.append(
            {
                "logical_id": resource.logical_id,
                "what": what,
                "physical_id": physical,
                "emulated": resource.emulated,
                "command": _removal_command(resource.resource_type, physical),
            }
        )
    return kept


def _endpoint_flag(target) -> str:
    """What an ``aws`` command needs at its end to reach the target (the sandbox's endpoint)."""
    return f" --endpoint-url {shlex.quote(target.endpoint_url)}" if target.endpoint_url else ""


def _removal_command(resource_type: str, physical_id: str) -> str:
    """The command that removes a retained resource, every value shell-quoted."""
    if not physical_id:
        return ""
    if resource_type == "AWS::DynamoDB::Table":
        return f"aws dynamodb delete-table --table-name {shlex.quote(physical_id)}"
    if resource_type == "AWS::S3::Bucket":
        return f"aws s3 rb {shlex.quote('s3://' + physical_id)} --force"
    quoted = shlex.quote(physical_id)
    if resource_type == "AWS::ElastiCache::ReplicationGroup":  # a last snapshot first
        return (
            f"aws elasticache delete-replication-group --replication-group-id {quoted} "
            f"--final-snapshot-identifier {shlex.quote(physical_id + '-final')}"
        )
    if resource_type == "AWS::ElastiCache::SubnetGroup":
        return f"aws elasticache delete-cache-subnet-group --cache-subnet-group-name {quoted}"
    if resource_type == "AWS::EC2::SecurityGroup":
        return f"aws ec2 delete-security-group --group-id {quoted}"
    if resource_type == "AWS::SQS::Queue":  # its physical id is its URL
        return f"aws sqs delete-queue --queue-url {quoted}"
    if resource_type == "AWS::SecretsManager::Secret":
        return f"aws secretsmanager delete-secret --secret-id {quoted} --recovery-window-in-days 7"
    return ""


# The guard of every stack route: only pushstack's stacks.

# Routes of a stack: any URL rule whose path goes on from these with an argument (the
# stack's name, whatever the argument is called), whichever blueprint declares it, is
# checked before its view runs (``_only_pushstacks_stacks``).
STACK_ROUTES = ("/stacks/<", "/api/stacks/<")


@bp.before_app_request
def _only_pushstacks_stacks():
    """Refuse, before any view of a stack runs, a stack pushstack did not make (or one
    that does not exist): the page, its API, update, change sets, delete, recovery, and
    any route added later under ``STACK_ROUTES``. The answer is cached a few seconds
    per stack (``OWNERSHIP_SECONDS``), unknown names included, so polling costs little;
    ``Cloud`` checks again, uncached, before every change."""
    rule = request.url_rule
    if rule is None or not rule.rule.startswith(STACK_ROUTES) or not request.view_args:
        return None
    first = rule.rule.split("<", 1)[1].split(">", 1)[0].split(":")[-1]  # "<name>", "<x:name>"
    name = str(request.view_args.get("name", request.view_args.get(first, "")))
    region = _region()
    try:
        get_access().owned(_stack_ref(name), region)
    except CloudError as exc:
        if rule.rule.startswith("/api/"):
            return _api_error(name, exc)
        return _error_page(f"Stack {name}", exc, name=name, region=region)
    return None


# Helpers.


def stack_url(name: str, region: str | None = None) -> str:
    return url_for("stacks.show", name=name, **_region_args(region))


def _region_args(region: str | None) -> dict:
    """The region as a query argument, unless it is the target's own."""
    try:
        default = get_access().target().region
    except CloudError:
        default = None
    return {"region": region} if region and region != default else {}


def _ref_args(ref: str, name: str, region: str | None) -> dict:
    args = _region_args(region)
    if ref != name:
        args["id"] = ref
    return args


def _region() -> str | None:
    region = request.args.get("region")
    return region if region in REGIONS else None


def _stack_ref(name: str) -> str:
    """The stack's id when the URL gives one (a deleted stack is found only by id)."""
    stack_id = request.args.get("id", "")
    if stack_id and STACK_ID.fullmatch(stack_id) and f":stack/{name}/" in stack_id:
        return stack_id
    return name


def _relaunch_query(values: dict) -> str:
    """The form's share query for a new launch: same options, a fresh table prefix."""
    query = {}
    for key, value in values.items():
        if key not in SPECS or key in ("crypto_key", "table_prefix") or value in (None, "", ()):
            continue
        if value is False:
            continue
        if value is True:
            value = "y"
        elif isinstance(value, list | tuple):
            value = ",".join(value)
        query[key] = str(value)
    return urlencode(query)


def _relaunch_url() -> str | None:
    again = request.args.get("again")
    if not again:
        return None
    pairs = [(k, v) for k, v in parse_qsl(again) if k in SPECS and k != "crypto_key"]
    return url_for("wizard.form") + "?" + urlencode(pairs)


def _target_or_none():
    try:
        return get_access().target()
    except CloudError:
        return None


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _change_set_gone(exc: CloudError) -> CloudError:
    """A change set AWS no longer knows (the stack's guard found the stack): in words,
    instead of AWS's "Stack with id ...changeSet... does not exist"."""
    if exc.code in ("ChangeSetNotFound", "ChangeSetNotFoundException") or _is_not_found(exc):
        return CloudError(
            "This change set no longer exists: it was discarded or executed.",
            "Open the stack to see its state; Update this stack makes a new change set.",
            "NotFound",
        )
    return exc


def _not_found(message: str) -> CloudError:
    return CloudError(message, "", "NotFound")


def _http_status(exc: CloudError) -> int:
    code = exc.code or ""
    if code == NOT_PUSHSTACKS:
        return 403
    if code in THROTTLING_CODES or code == RATE_LIMITED:
        return 429
    if code in DENIED_CODES:
        return 403
    if code == "NotFound" or _is_not_found(exc):
        return 404
    if code in ("AlreadyExistsException", "TokenAlreadyExistsException"):
        return 409
    if code == "ResourceInUseException":  # kept tables take the names: refused, nothing made
        return 409
    if code in ("ValidationError", "InsufficientCapabilitiesException", "InvalidParameterValue"):
        return 422
    if code.startswith("NoSuch") or code.endswith("NotFoundException"):
        return 422  # something the form names does not exist (a hosted zone, a bucket...)
    return 502


def _is_not_found(exc: CloudError) -> bool:
    message = exc.message.lower()
    return exc.code == "ValidationError" and any(
        words in message for words in ("not found", "does not exist", "no stack named")
    )


def _error_page(title: str, exc: CloudError, *, name: str | None = None, region=None):
    return (
        render_template(
            "stack_error.html",
            title=title,
            error=exc,
            name=name,
            region_args=_region_args(region),
        ),
        _http_status(exc),
        _NO_STORE,
    )
