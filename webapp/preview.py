"""The preview of a submitted form: template, summary, diagram, findings; and downloads."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer
from troposphere import Template

from pushstack import artifacts, diagram, lint, processor_zip, render, summary
from pushstack.options import REGIONS, Options
from pushstack.template import AMI_PARAMETER, build_template
from pushstack.template.images import first_create_note, image_sources_note
from pushstack.template.processor import s3_access_note
from pushstack.template.store import redis_note
from webapp import checks, costs, store
from webapp.forms import share_query
from webapp.preview_cache import Background, Busy, ShapeCache, shape_key
from webapp.preview_files import PreviewFiles
from webapp.review import changed_from_defaults, link_changes

bp = Blueprint("preview", __name__)

_FORMATTER = HtmlFormatter(cssclass="highlight")
_LEXERS = {"json": JsonLexer(), "yaml": YamlLexer()}
_NO_STORE = {"Cache-Control": "no-store"}


# The form's banner lists what a share link changed (templates/form.html); the review
# of a preview or launch, what differs from the defaults (templates/_review.html).
bp.add_app_template_global(link_changes, "link_changes")
bp.add_app_template_global(changed_from_defaults, "changed_from_defaults")


@functools.lru_cache(maxsize=1)
def _highlight_css() -> str:
    return _FORMATTER.get_style_defs(".highlight")


@bp.get("/highlight.css")
def highlight_css():
    """Pygments' colours, as a file: the CSP allows no inline style."""
    return Response(_highlight_css(), mimetype="text/css")


@bp.get("/preview/<preview_id>")
def show(preview_id: str):
    fmt = "yaml" if request.args.get("format") == "yaml" else "json"
    options, shape = _opened(preview_id)
    html = render_template(
        "preview.html",
        options=options,
        preview_id=preview_id,
        fmt=fmt,
        highlighted=shape.highlighted_yaml if fmt == "yaml" else shape.highlighted_json,
        size=len(shape.json.encode("utf-8")),
        yaml_size=len(shape.yaml.encode("utf-8")),
        yaml_block_size=len(shape.yaml_block.encode("utf-8")),
        yaml_is_flow=shape.yaml != shape.yaml_block,
        readable_yaml_name=readable_yaml_filename(options),
        compact=(shape.yaml != shape.yaml_block)
        if fmt == "yaml"
        else (shape.json != shape.json_indented),
        limit=render.INLINE_TEMPLATE_LIMIT,
        summary=shape.summary,
        estimate=costs.of_options(options, shape.template),
        svg=shape.svg,
        diagram_problem=shape.diagram_problem,
        findings=findings_of(options, shape, wait=current_app.config["PREVIEW_LINT_WAIT_SECONDS"]),
        missing=render.missing_parameters(options, shape.template),
        processor_zip=_processor_zip_name() if options.processor else None,
        artifacts_bucket=artifacts.bucket_name("ACCOUNT_ID", options.region),
        command=render.create_stack_command(options),
        create_time=first_create_note(options),
        image_sources=image_sources_note(options),
        redis=redis_note(options),
        s3_access=s3_access_note(options),
        quota=checks.vcpu_quota(options),
        ami=checks.current_ami(options),
        ami_parameter=AMI_PARAMETER,
        template_name=render.template_filename(options, "json"),
        yaml_name=render.template_filename(options, "yaml"),
        parameters_name=render.parameters_filename(options),
        share_url=share_url(options),
        share_path=share_url(options, external=False),
    )
    return html, 200, _NO_STORE


@bp.get("/preview/<preview_id>/findings")
def findings(preview_id: str):
    """The findings part of the preview, for its script: 202 while cfn-lint still runs."""
    options, shape = _opened(preview_id)
    found = findings_of(options, shape, wait=0)  # never hold a server thread: the script retries
    html = render_template("_findings.html", findings=found)
    return html, 200 if found is not None else 202, _NO_STORE


# Only these names: any other file under a preview is a plain "no page here" 404.
@bp.get("/preview/<preview_id>/template.<any(json, yaml):fmt>")
def download_template(preview_id: str, fmt: str):
    options, shape = _opened(preview_id)
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    text = shape.yaml if fmt == "yaml" else shape.json
    return _attachment(text, mimetype, render.template_filename(options, fmt))


@bp.get("/preview/<preview_id>/template.readable.yaml")
def download_readable_yaml(preview_id: str):
    """The YAML in block style, for reading, when the template file is flow style (the
    block style is over the inline limit: CloudFormation takes it from S3 only)."""
    options, shape = _opened(preview_id)
    if shape.yaml == shape.yaml_block:
        abort(404)  # the YAML file is block style already
    return _attachment(shape.yaml_block, "application/yaml", readable_yaml_filename(options))


def readable_yaml_filename(options: Options) -> str:
    return f"{options.stack_name}.template.readable.yaml"


@bp.get("/preview/<preview_id>/parameters.json")
def download_parameters(preview_id: str):
    """The only artifact with the crypto key: never cached, never shown."""
    options, shape = _opened(preview_id)
    # Made per request from the cached template (which holds no value), never cached itself.
    text = render.parameters_file(options, shape.template)
    return _attachment(text, "application/json", render.parameters_filename(options))


@bp.get("/preview/<preview_id>/processor.zip")
def download_processor_zip(preview_id: str):
    """The processor Lambda's package, built by pushstack: the same bytes for everyone."""
    options = store.recall(preview_id)
    if options is None:
        return _expired()
    if not options.processor:
        abort(404)
    try:
        data, key = processor_zip.zip_bytes(), processor_zip.zip_key()
    except processor_zip.ProcessorZipError as exc:
        message = f"The processor's package cannot be built here: {exc}."
        return render_template("error.html", code=503, title="No package", message=message), 503
    response = Response(data, mimetype="application/zip", headers=_NO_STORE)
    response.headers.set("Content-Disposition", "attachment", filename=key.rsplit("/", 1)[-1])
    return response


@dataclass(frozen=True)
class Artifacts:
    """Everything the preview shows of one template shape; no option value, no secret."""

    template: Template  # read only: the parameters file and missing parameters read it
    json: str  # the downloaded file: indented, or compact when that would pass the limit
    json_indented: str
    yaml: str  # the downloaded file, as json
    yaml_block: str
    highlighted_json: Markup
    highlighted_yaml: Markup
    summary: summary.Summary
    svg: Markup | None
    diagram_problem: str | None


def get_cache() -> ShapeCache[Artifacts]:
    app = current_app._get_current_object()
    cache = app.extensions.get("pushstack_shapes")
    if cache is None:
        with _CACHE_LOCK:
            cache = app.extensions.setdefault(
                "pushstack_shapes",
                ShapeCache(
                    max_shapes=app.config["PREVIEW_CACHE_SHAPES"],
                    max_cold_renders=app.config["PREVIEW_COLD_RENDERS"],
                    wait_seconds=app.config["PREVIEW_WAIT_SECONDS"],
                ),
            )
    return cache


@bp.record_once
def _settings(state) -> None:
    """Settings of the preview's caches, unless the environment (PUSHSTACK_PREVIEW_*) or
    the test config gave them."""
    for name, default in _SETTINGS.items():
        state.app.config.setdefault(name, default)


# Each process keeps 32 shapes (about 1 MB each); 2 cold renders at a time; a request
# waits at most 30 s for one, and 0.5 s for cfn-lint before showing the page without it.
_SETTINGS = {
    "PREVIEW_CACHE_SHAPES": 32,
    "PREVIEW_COLD_RENDERS": 2,
    "PREVIEW_WAIT_SECONDS": 30,
    "PREVIEW_LINT_WAIT_SECONDS": 0.5,
    # cfn-lint's findings shared by the wizard's processes ("" keeps them in memory only).
    "PREVIEW_LINT_SHARED_DIR": str(Path(tempfile.gettempdir()) / f"pushstack-lint-{os.getuid()}"),
    # Rendered previews shared by the processes ("" keeps them in each process only).
    "PREVIEW_SHARED_DIR": str(Path(tempfile.gettempdir()) / f"pushstack-preview-{os.getuid()}"),
}


_CACHE_LOCK = threading.Lock()


def artifacts_of(options: Options) -> Artifacts:
    """The artifacts of this options' shape, rendered on first use; ``Busy`` if swamped."""
    # Rendered from options without the key: nothing cached can ever hold it.
    keyless = dataclasses.replace(options, crypto_key="")
    key = shape_key(options)
    return get_cache().get(key, lambda: _shared_render(key, keyless))


def _shared_render(key, keyless: Options) -> Artifacts:
    """Rendered once for all the wizard's processes when they share a folder."""
    folder = current_app.config["PREVIEW_SHARED_DIR"]
    if not folder:
        return _render_artifacts(keyless)
    return PreviewFiles(folder).get(
        key,
        lambda: _render_artifacts(keyless),
        lambda fields: Artifacts(template=build_template(keyless), **fields),
    )


def _render_artifacts(options: Options) -> Artifacts:
    template = build_template(options)
    template_dict = render.to_dict(template)
    template_json = render.to_json(template)
    indented = render.to_json(template, indent=2)
    template_yaml = render.to_yaml(template)  # the file: flow style when block style is too large
    block_yaml = render.to_yaml(template, compact=False)
    try:
        svg, diagram_problem = _inline_svg(diagram.render_svg(template_dict)), None
    except diagram.DiagramUnavailable as exc:
        svg, diagram_problem = None, str(exc)
    return Artifacts(
        template=template,
        json=template_json,
        json_indented=indented,
        yaml=template_yaml,
        yaml_block=block_yaml,
        highlighted_json=_highlight(indented, "json"),
        highlighted_yaml=_highlight(block_yaml, "yaml"),
        summary=summary.summarize(template_dict),
        svg=svg,
        diagram_problem=diagram_problem,
    )


def findings_of(options: Options, shape: Artifacts, wait: float) -> list[lint.Finding] | None:
    """cfn-lint's findings for the stack's region, or None while they are being made.

    The shape is linted once for every region (the template names none), off the
    request path; ``wait`` is how long this request may wait for it.
    """
    shared_dir = current_app.config["PREVIEW_LINT_SHARED_DIR"] or None
    everywhere = _background(current_app).get(
        shape_key(options),
        lambda: lint.findings(shape.json, regions=REGIONS, shared_dir=shared_dir),
        wait=wait,
    )
    return None if everywhere is None else lint.for_region(everywhere, options.region)


def _background(app) -> Background[list[lint.Finding]]:
    background = app.extensions.get("pushstack_lint")
    if background is None:
        with _CACHE_LOCK:
            background = app.extensions.setdefault("pushstack_lint", Background())
    return background


def _highlight(text: str, fmt: str) -> Markup:
    return Markup(highlight(text, _LEXERS[fmt], _FORMATTER))  # noqa: S704 (Pygments escapes)


@functools.lru_cache(maxsize=1)
def _processor_zip_name() -> str | None:
    try:
        return processor_zip.zip_key().rsplit("/", 1)[-1]
    except processor_zip.ProcessorZipError:
        return None


def share_url(options: Options, *, external: bool = True) -> str:
    return url_for("wizard.form", _external=external, **share_query(options))


def _attachment(text: str, mimetype: str, filename: str) -> Response:
    response = Response(text, mimetype=mimetype, headers=_NO_STORE)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


def _opened(preview_id: str) -> tuple[Options, Artifacts]:
    """A preview's options and its shape's artifacts; else the expired or busy page."""
    options = store.recall(preview_id)
    if options is None:
        abort(make_response(_expired()))
    try:
        return options, artifacts_of(options)
    except Busy:
        abort(make_response(_busy()))


def _expired():
    return render_template("expired.html"), 404, _NO_STORE


def _busy():
    message = (
        "The wizard is preparing other previews right now. Wait a few seconds and reload "
        "this page: your preview is kept."
    )
    page = render_template("error.html", code=503, title="Busy, try again", message=message)
    return page, 503, {**_NO_STORE, "Retry-After": "5"}


_SVG_START = re.compile(r"<svg\b")


def _inline_svg(markup: str) -> Markup:
    """Graphviz's SVG without its XML prolog, to sit inside the page."""
    match = _SVG_START.search(markup)
    return Markup(markup[match.start() :] if match else "")  # noqa: S704 (Graphviz escapes labels)
