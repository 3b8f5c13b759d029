"""The change set page: the parameters and properties an update changes, whether each
change replaces its resource (AWS's word or predicted), and Discard; against the sandbox."""

import html
import re

import test_stacks_web as stacks_web
from test_stacks_web import launch, new_name, page_text
from test_web import FormValues

# The sandbox, wizard and helpers of the stack pages' tests (pytest finds fixtures by name).
sandbox_url, app, client, cloud = (
    stacks_web.sandbox_url,
    stacks_web.app,
    stacks_web.client,
    stacks_web.cloud,
)


def update_to(client, name: str, **values):
    """Submit the update form of ``name`` with ``values`` changed; the change set's response."""
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(acknowledge="y", **values)
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    return client.get(response.headers["Location"])


def test_change_set_shows_parameters_and_properties_that_change(client, cloud):
    """Desired capacity 2 to 3: the parameter, and the property of the group it sets;
    the key kept; the sandbox lists no change for new values, the diff does."""
    name = new_name("diff")
    launch(client, name)
    changes = update_to(client, name, connection_desired_capacity="3")
    assert changes.status_code == 200
    page = changes.get_data(as_text=True)
    text = page_text(changes)
    assert re.search(r"ConnectionDesiredCapacity\s+2\s+3", text), text[:3000]
    assert re.search(r"CryptoKey\s+kept", text)
    row = row_text(page, "change-ConnectionNodes")
    assert "Modify" in row and "No (predicted)" in row and "False" not in row
    assert re.search(
        r"DesiredCapacity\s+reads ConnectionDesiredCapacity\s+2 → 3\s+No \(predicted\)", text
    )
    assert "Discard these changes" in text and "Apply these changes" in text
    # The sandbox answers the change set's parameters with the key in clear: not shown.
    change_set_id = FormValues(page).values["change_set_id"]
    reply = cloud.target.client("cloudformation").describe_change_set(ChangeSetName=change_set_id)
    key = next(p["ParameterValue"] for p in reply["Parameters"] if p["ParameterKey"] == "CryptoKey")
    assert len(key) == 44 and key not in page


def test_change_set_predicts_a_table_replacement_and_a_new_key_is_replaced(client, cloud):
    name = new_name("prefix")
    launch(client, name)
    new_key = "Mk3tEYXwwpw1Y9gJvnc3Q1T4I5pa3I5S3C-J3nr3xdM="
    changes = update_to(client, name, table_prefix="autopush_other", crypto_key=new_key)
    page = changes.get_data(as_text=True)
    text = page_text(changes)
    assert new_key not in page
    assert re.search(r"CryptoKey\s+replaced", text)
    row = row_text(page, "change-RouterTable")
    assert (
        "Yes (predicted)" in row
        and "True" not in row
        and "Replaces the DynamoDB table RouterTable" in row
    )
    assert re.search(
        r"TableName\s+reads TablePrefix\s+\S+_router → autopush_other_router\s+Yes", text
    )
    assert "Apply these changes anyway" in text


def test_discard_deletes_the_change_set_and_leaves_the_stack(client, cloud):
    name = new_name("discard")
    launch(client, name)
    changes = update_to(client, name, connection_desired_capacity="3")
    form = FormValues(changes.get_data(as_text=True)).values
    change_set_id = form["change_set_id"]
    response = client.post(f"/stacks/{name}/change-set/discard", data=form)
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    assert "The change set was discarded" in page_text(status)
    assert cloud.stack(name).parameters["ConnectionDesiredCapacity"] == "2"
    gone = client.get(f"/stacks/{name}/change-set?id={change_set_id}")
    assert gone.status_code == 404
    text = page_text(gone)
    assert "This change set no longer exists: it was discarded or executed." in text
    assert "Stack with id" not in text and "Check the name and the region" not in text
    assert f'href="/stacks/{name}"' in gone.get_data(as_text=True)  # back to the stack
    # Discard is a POST with a valid change set id, as execute is.
    assert client.get(f"/stacks/{name}/change-set/discard").status_code == 405
    bad = client.post(f"/stacks/{name}/change-set/discard", data={"change_set_id": "x"})
    assert bad.status_code == 404


def row_text(page: str, element_id: str) -> str:
    """The words of the table row with this id."""
    match = re.search(rf'<tr[^>]*id="{element_id}".*?</tr>', page, flags=re.S)
    assert match, element_id
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))))
