"""The engine choice in the wizard: what the form says, refuses and previews."""

import html
import re

from conftest import PROCESSOR_FORM, RS_FORM, VALID_FORM

from webapp.forms import ENGINE_EXPLAINED


def text_of(response) -> str:
    return html.unescape(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    )


def test_the_form_offers_both_engines_new_stacks_get_autopush_rs(client):
    page = client.get("/").get_data(as_text=True)
    assert re.search(
        r'<input[^>]*checked[^>]*value="autopush-rs"|<input[^>]*value="autopush-rs"[^>]*checked',
        page,
    )
    words = html.unescape(page)
    for sentence in ENGINE_EXPLAINED.values():
        assert sentence in words
    assert "experimental" in ENGINE_EXPLAINED["autopush-rs"]


def test_autopush_rs_with_log_processing_is_refused_next_to_the_field(client):
    form = {**PROCESSOR_FORM, "engine": "autopush-rs"}
    response = client.post("/", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="log_processing-error">(.*?)</p>', page, re.S)
    assert error and "autopush-rs cannot feed this" in html.unescape(error.group(1))
    assert "subnet-0123456789abcdef3" in page  # the rest kept as typed


def test_one_image_without_the_other_is_refused_next_to_the_missing_one(client):
    response = client.post("/", data={**RS_FORM, "autoconnect_image": "example/autoconnect:1"})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert re.search(r'id="autoendpoint_image-error">Give both images, or neither', page)


def preview_text(client, form) -> str:
    response = client.post("/", data=form)
    assert response.status_code == 303, text_of(response)[:1000]
    return text_of(client.get(response.headers["Location"]))


def test_the_preview_says_how_long_the_first_create_takes_and_why(client):
    text = preview_text(client, RS_FORM)
    assert "The first create takes about 35 minutes: CodeBuild compiles autoconnect" in text
    assert "AWS::ElastiCache::ReplicationGroup" in text and "AWS::DynamoDB::Table" not in text
    given = {
        **RS_FORM,
        "autoconnect_image": "example/autoconnect:1.83.1",
        "autoendpoint_image": "example/autoendpoint:1.83.1",
    }
    text = preview_text(client, given)
    assert "about 20 minutes, most of it ElastiCache creating the store" in text
    assert "AWS::CodeBuild::Project" not in text
    assert "The first create takes about 8 minutes." in preview_text(client, VALID_FORM)


def test_the_preview_notes_the_vcpus_and_the_legacy_subscription_expiry(client):
    text = preview_text(client, PROCESSOR_FORM)
    # 2 nodes of 2 vCPUs in each of three groups; 4 nodes at their maximums.
    assert "The nodes run 12 vCPUs at their desired sizes, 24 at their maximums" in text
    assert "removed by DynamoDB's time to live" in text
    text = preview_text(client, RS_FORM)
    assert "The nodes run 8 vCPUs" in text and "time to live" not in text


def test_the_preview_says_where_the_images_come_from(client):
    assert "from the stack's own ECR repository" in preview_text(client, RS_FORM)
    text = preview_text(client, PROCESSOR_FORM)
    assert "run mozilla/autopush:1.57.0 from the stack's own ECR repository" in text
    assert "the first node to boot copies it there from its registry (Docker Hub" in text
    assert "The Messages API nodes copy and pull mozilla/push-messages:0.7" in text
    # Their subnet's way out, said: NAT, or the ECR endpoints with the S3 one.
    assert "VPC endpoints for ECR (ecr.api, ecr.dkr)" in text


def test_the_preview_says_what_protects_redis_and_which_client_cannot_do_more(client):
    """#16 item 8: Redis is encrypted at rest; TLS and AUTH are missing because the clients
    cannot use them, and the preview says which; IAM sentences show what managed policies
    grant (item 1)."""
    text = preview_text(client, PROCESSOR_FORM)
    assert "Redis is encrypted at rest but not in transit, and has no AUTH token" in text
    assert "push-messages 0.7" in text and "neither TLS nor a password" in text
    assert "ec2: CreateNetworkInterface" in text  # the processor's managed policy, expanded
    assert "AmazonSSMManagedInstanceCore" not in text
    text = preview_text(client, RS_FORM)
    assert "The store (Valkey) is encrypted at rest but not in transit" in text
    assert "autopush-rs 1.83.1's Redis client is built without TLS" in text
    assert "has no AUTH token" not in preview_text(client, VALID_FORM)
