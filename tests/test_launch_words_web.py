"""The words and ways out around a launch and a delete, against the sandbox: what the
acknowledgement names, a taken table prefix, a failed launch, the typed name a delete
asks for, clean-up commands that work pasted, the stacks list, type names."""

import dataclasses
import html
import re
from urllib.parse import urlsplit

import pytest
import test_stacks_web as stacks_web
from listing import all_tables
from test_stacks_web import launch, new_name, page_text, preview
from test_web import FormValues

# The sandbox, wizard and helpers of the stack pages' tests (pytest finds fixtures by name).
sandbox_url, app, client, cloud = (
    stacks_web.sandbox_url,
    stacks_web.app,
    stacks_web.client,
    stacks_web.cloud,
)


@pytest.mark.parametrize(
    ("log_processing", "keeps"),
    [
        ("none", "keeps its DynamoDB tables and its crypto key's secret."),
        ("firehose", "keeps its DynamoDB tables, its crypto key's secret and its log bucket."),
    ],
)
def test_launch_acknowledgement_names_what_this_stack_keeps(client, log_processing, keeps):
    text = page_text(
        client.get(preview(client, stack_name=new_name(), log_processing=log_processing))
    )
    label = text[text.index("I understand: launching") :]
    label = label[: label.index(".", label.index("deleting")) + 1]
    assert label.endswith(keeps), label
    # The sandbox costs nothing, and says so instead of "AWS charges".
    assert "in the sandbox, on this machine: nothing real, nothing charged" in label
    assert "AWS charges" not in text.replace("AWS charges for what runs", "")
    assert "In a real account, AWS would charge for" in text


def test_launch_acknowledgement_in_aws_says_what_aws_charges_for():
    from pushstack.cloud import Target
    from webapp.stacks import acknowledgement

    target = Target("aws", "us-east-1", "123456789012", None, None)
    facts = {"retained": [("RouterTable", "DynamoDB table")]}
    assert acknowledgement(facts, target) == (
        "I understand: launching creates IAM roles and resources that AWS charges for while "
        "they run, and deleting the stack keeps its DynamoDB tables."
    )


def test_type_names_wrap_only_after_their_colons(client):
    """A long type such as AWS::ElasticLoadBalancingV2::TargetGroup may wrap only at
    its "::" (a <wbr> there), never inside a word."""
    name = new_name("types")
    page = client.get(launch(client, name)).get_data(as_text=True)
    assert "<td>AWS::<wbr>ElasticLoadBalancingV2::<wbr>TargetGroup</td>" in page
    response = client.get("/static/stacks.css")
    css = response.get_data(as_text=True)
    response.close()
    rule = re.search(r"([^{}]*)\{\s*overflow-wrap: anywhere;", css).group(1)
    # Not the type columns: the resources' 2nd, the events' 3rd, the changes' 3rd.
    for column in ("table.resources td:nth-child(2)", "table.events td:nth-child(3)"):
        assert column not in rule


def test_update_acknowledgement_error_speaks_of_the_update(client):
    name = new_name("ack")
    launch(client, name)
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 422
    text = page_text(response)
    assert "Tick this box to confirm that the update may replace nodes" in text
    assert "what the stack creates and keeps" not in text


def test_an_empty_stacks_list_does_not_say_none_was_ever_launched(client):
    text = page_text(client.get("/stacks?region=ap-south-1"))
    assert "No stack launched by pushstack is in ap-south-1 now" in text
    assert "a deleted stack leaves this list" in text
    assert "yet" not in text


def test_a_taken_table_prefix_is_caught_on_the_preview_with_one_click_ways_out(client, cloud):
    first = new_name("tables")
    launch(client, first)
    prefix = cloud.stack(first).parameters["TablePrefix"]
    path = preview(client, stack_name=new_name("again"), table_prefix=prefix)
    page = client.get(path)
    body = page.get_data(as_text=True)
    warning = page_text(page)
    assert f"Tables with the table prefix {prefix} already exist" in warning
    assert f"{prefix}_router" in warning or prefix + "router" in warning
    assert 'id="reuse-tables"' in body and 'id="new-prefix"' in body
    # Next to the prefix in the values to check, too.
    assert re.search(
        rf"<code>{prefix}</code>\s*<strong[^>]*id=\"table_prefix-taken\">Tables with this prefix",
        body,
    )

    # A launch anyway: the error page offers the same two ways out, and no launch.
    failed = client.post(path + "/launch", data={"acknowledge": "y"})
    assert failed.status_code == 409  # refused before any change: a conflict, not a 502
    text = page_text(failed)
    assert "Nothing was launched" in text
    assert 'id="reuse-tables"' in failed.get_data(as_text=True)
    assert 'id="new-prefix"' in failed.get_data(as_text=True)
    assert "Tables with the table prefix" in text and "Launch the stack" not in text
    assert 'id="back-to-form"' in failed.get_data(as_text=True)

    # Reuse them: the same preview, reusing the tables; no warning.
    original = shared_values(client.get(path))
    reused = client.post(path + "/table-prefix", data={"choice": "reuse"})
    assert reused.status_code == 303
    reused_page = client.get(reused.headers["Location"])
    assert "already exist" not in page_text(reused_page)
    values = shared_values(reused_page)
    assert values == {**original, "reuse_tables": "y"}

    # Choose another: a fresh prefix, everything else as it was; no warning.
    other = client.post(path + "/table-prefix", data={"choice": "new"})
    assert other.status_code == 303
    other_page = client.get(other.headers["Location"])
    assert "already exist" not in page_text(other_page)
    values = shared_values(other_page)
    assert values.pop("table_prefix") != prefix
    assert values == {k: v for k, v in original.items() if k != "table_prefix"}
    # The crypto key stayed in the preview (sealed): it launches with no key typed.
    other_path = urlsplit(other.headers["Location"]).path
    launched = client.post(other_path + "/launch", data={"acknowledge": "y"})
    assert launched.status_code == 303, page_text(launched)[:1500]


def shared_values(page) -> dict[str, str]:
    """The options a preview's share link carries (everything but the key)."""
    from urllib.parse import parse_qsl

    body = page.get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" id="share-link">', body).group(1)
    return dict(parse_qsl(urlsplit(html.unescape(link)).query))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type the stack's name, {name}, to delete it."),
        ("{name}x", "Type {name} exactly to delete it."),
        ("push", "Type {name} exactly to delete it."),
    ],
)
def test_delete_needs_the_stacks_name_typed(client, cloud, typed, message):
    name = new_name("confirm")
    launch(client, name)
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": typed.format(name=name)})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message.format(name=name) in page_text(response)
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="confirm_name"', body)
    assert cloud.stack(name).status == "CREATE_COMPLETE"  # nothing was deleted
    # Typed right (surrounding spaces forgiven), it deletes.
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": f" {name} "})
    assert response.status_code == 303
    assert cloud.stack(name).status == "DELETE_COMPLETE"


def test_sandbox_clean_up_commands_work_when_pasted(client, cloud, sandbox_url):
    """The commands that remove what a deleted sandbox stack kept carry the dummy
    credentials and the sandbox's endpoint: pasted in a shell with no AWS settings at
    all, they remove the tables and the log bucket."""
    import os
    import shlex
    import shutil
    import subprocess

    name = new_name("paste")
    launch(client, name, log_processing="firehose")
    response = client.post(f"/stacks/{name}/delete", data={"confirm_name": name})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    retained = page[page.index('id="retained"') :]
    commands = [
        html.unescape(command)
        for command in re.findall(
            r"<pre id=\"remove-[^\"]*\"><code>(.*?)</code></pre>",
            retained[: retained.index("</section>")],
        )
    ]
    assert len(commands) == 3, commands  # two tables and the log bucket (no secret emulated)
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "aws"]
        assert words[-4:] == ["--region", "us-east-1", "--endpoint-url", sandbox_url]
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("no aws command line here to paste the commands into")
    keep = ("PATH", "HOME", "PYENV_ROOT", "PYENV_VERSION", "LANG")
    shell = {key: os.environ[key] for key in keep if key in os.environ}
    shell.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], env=shell, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)
    tables = set(all_tables(cloud.target.client("dynamodb", "us-east-1")))
    assert not any(
        table in tables for table in re.findall(r"--table-name (\S+)", " ".join(commands))
    )


def test_autopush_rs_says_what_a_delete_keeps_and_that_the_store_costs(client, cloud, monkeypatch):
    """autopush-rs keeps its Valkey store (billed), the store's subnet group and security
    group and the auth key secret: the acknowledgement, the delete page and the stack page
    say so, with the commands that remove them, and speak of no table prefix."""
    from pushstack.cloud import Target
    from webapp.stacks import acknowledgement

    name = new_name("rs")
    path = preview(client, stack_name=name, engine="autopush-rs")
    text = page_text(client.get(path))
    label = text[text.index("I understand: launching") :]
    label = label[: label.index("Turn on termination")]
    for kept in ("crypto key's secret", "AuthKeySecret", "Valkey store PushStore"):
        assert kept in label, label
    assert "subnet group and security group" in label
    assert "in AWS the store is charged for until you remove it" in label
    assert "would keep costing in AWS (its nodes' hours) until you remove it" in text
    aws = Target("aws", "us-east-1", "123456789012", None, None)
    rs_facts = {
        "retained": [
            ("PushStore", "push store (ElastiCache for Valkey)"),
            ("AuthKeySecret", "auth key secret"),
        ]
    }
    assert "(AWS charges for the store until you remove it)" in acknowledgement(rs_facts, aws)

    response = client.post(path + "/launch", data={"acknowledge": "y"})
    assert response.status_code == 303, page_text(response)[:1500]
    stack_page = client.get(response.headers["Location"])
    stack_text = page_text(stack_page)
    assert "table prefix" not in stack_text
    next_steps = stack_page.get_data(as_text=True)
    assert "Keep the crypto key</strong>: the subscriptions live in the Valkey store" in next_steps
    assert not re.search(r"</strong>\s+:", next_steps)  # no stray space before a colon
    assert "the form cannot reuse a kept store" in stack_text

    delete = client.get(f"/stacks/{name}/delete")
    body = delete.get_data(as_text=True)
    delete_text = page_text(delete)
    assert "table prefix" not in delete_text
    assert "The Valkey store PushStore and its data (every subscription) are kept" in delete_text
    assert "The form cannot reuse a kept store" in delete_text
    # The sandbox does not create the store: said, with nothing to remove.
    assert re.search(r"PushStore\s*</code>\s*<span[^>]*>not emulated in the sandbox", body)
    assert cloud.target.cli_environment + "aws ec2 delete-security-group" in delete_text
    # Where the store exists (AWS), its command, with the others', each with a copy button.
    real = cloud.resources(name)
    ids = {"PushStore": "push-store-x", "StoreSubnetGroup": "store-subnets-x"}
    faked = [
        dataclasses.replace(r, physical_id=ids[r.logical_id], emulated=True)
        if r.logical_id in ids
        else r
        for r in real
    ]
    monkeypatch.setattr(cloud, "resources", lambda ref: faked)
    delete = client.get(f"/stacks/{name}/delete")
    body, delete_text = delete.get_data(as_text=True), page_text(delete)
    assert (
        "aws elasticache delete-replication-group --replication-group-id push-store-x"
        in delete_text
    )
    assert (
        "aws elasticache delete-cache-subnet-group --cache-subnet-group-name store-subnets-x"
        in delete_text
    )
    for logical_id in ("PushStore", "StoreSubnetGroup", "StoreSecurityGroup"):
        assert f'data-copy="remove-{logical_id}"' in body, logical_id


def test_reuse_is_offered_only_when_both_tables_exist(client, cloud):
    """With one of the two tables left, reusing them would fail: the page says which one
    is missing and offers only another prefix; a reuse posted anyway changes nothing."""
    first = new_name("half")
    launch(client, first)
    prefix = cloud.stack(first).parameters["TablePrefix"]
    dynamodb = cloud.target.client("dynamodb", "us-east-1")
    router = next(t for t in all_tables(dynamodb) if t.startswith(prefix) and "router" in t)
    message = next(t for t in all_tables(dynamodb) if t.startswith(prefix) and "message" in t)
    dynamodb.delete_table(TableName=message)
    path = preview(client, stack_name=new_name("again"), table_prefix=prefix)
    page = client.get(path)
    body, text = page.get_data(as_text=True), page_text(page)
    assert f"Tables with the table prefix {prefix} already exist" in text and router in text
    assert 'id="reuse-tables"' not in body and 'id="new-prefix"' in body
    assert f"They cannot be reused: {message} does not exist" in text

    failed = client.post(path + "/launch", data={"acknowledge": "y"})
    assert failed.status_code == 409
    failed_body = failed.get_data(as_text=True)
    assert "Nothing was launched" in page_text(failed)
    assert 'id="reuse-tables"' not in failed_body and 'id="new-prefix"' in failed_body

    refused = client.post(path + "/table-prefix", data={"choice": "reuse"})
    assert refused.status_code == 303
    assert urlsplit(refused.headers["Location"]).path == path  # the same preview, no reuse
