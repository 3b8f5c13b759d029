import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from pushstack import diagram
from pushstack.diagram import SERVICE_COLOURS, DiagramUnavailable, render_svg
from pushstack.graph import dependencies
from pushstack.options import LEGACY, LOG_PROCESSING_CHOICES, Options

SVG = "{http://www.w3.org/2000/svg}"

SMALL = {
    "Resources": {
        "RouterTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "NodeRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"Policies": [{"Resource": {"Fn::GetAtt": ["RouterTable", "Arn"]}}]},
        },
        "Nodes": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "DependsOn": "NodeRole",
            "Properties": {"Name": {"Fn::Sub": "${RouterTable}-nodes"}},
        },
    }
}


def parse(svg):
    return ET.fromstring(svg)


def titles(root, kind):
    return {g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == kind}


def node_texts(root, name):
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node" and g.find(f"{SVG}title").text == name:
            return [t.text for t in g.iter(f"{SVG}text")], g
    raise AssertionError(f"no node {name}")


def test_svg_is_bare_and_scales_to_its_container():
    svg = render_svg(SMALL)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<!--" not in svg
    root = parse(svg)
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert len(root.get("viewBox").split()) == 4
    assert root.get("aria-label") == "Diagram of the template's 3 resources and what each waits for"


def test_svg_fetches_nothing():
    svg = render_svg(SMALL)
    assert "href" not in svg and "url(" not in svg and "@import" not in svg
    assert svg.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0


@pytest.mark.parametrize(
    ("name", "label", "service"),
    [
        ("RouterTable", ["RouterTable", "DynamoDB::Table"], "DynamoDB"),
        ("NodeRole", ["NodeRole", "IAM::Role"], "IAM"),
        ("Nodes", ["Nodes", "AutoScaling::AutoScalingGroup"], "AutoScaling"),
    ],
)
def test_each_resource_is_a_box_labelled_and_coloured_by_service(name, label, service):
    texts, node = node_texts(parse(render_svg(SMALL)), name)
    assert texts == label
    fills = {shape.get("fill") for shape in node if shape.tag in (f"{SVG}path", f"{SVG}polygon")}
    assert fills == {SERVICE_COLOURS[service]}


def test_resources_of_a_service_are_grouped():
    clusters = titles(parse(render_svg(SMALL)), "cluster")
    assert clusters == {"cluster_AutoScaling", "cluster_DynamoDB", "cluster_IAM"}


def test_arrows_go_from_a_resource_to_what_it_waits_for():
    edges = titles(parse(render_svg(SMALL)), "edge")
    assert edges == {"NodeRole->RouterTable", "Nodes->NodeRole", "Nodes->RouterTable"}


def test_same_template_is_drawn_once():
    assert render_svg(SMALL) is render_svg(json.loads(json.dumps(SMALL)))


def test_missing_graphviz_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DiagramUnavailable, match="Graphviz is not installed: install it"):
        render_svg({"Resources": {"OnlyWhenMissing": {"Type": "AWS::S3::Bucket"}}})


def test_slow_graphviz_is_stopped(monkeypatch):
    def too_slow(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(diagram.subprocess, "run", too_slow)
    with pytest.raises(DiagramUnavailable, match="longer than"):
        render_svg({"Resources": {"OnlyWhenSlow": {"Type": "AWS::S3::Bucket"}}})


def test_empty_template_still_draws():
    assert render_svg({}).startswith("<svg")


@pytest.fixture(scope="module", params=LOG_PROCESSING_CHOICES)
def real_template(request):
    template = pytest.importorskip("pushstack.template")
    return template.build_template(Options(engine=LEGACY, log_processing=request.param)).to_dict()


def test_real_template_shows_every_resource_and_dependency(real_template):
    root = parse(render_svg(real_template))
    assert titles(root, "node") == set(real_template["Resources"])
    assert titles(root, "edge") == {
        f"{name}->{target}"
        for name, targets in dependencies(real_template).items()
        for target in targets
    }
