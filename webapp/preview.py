"""The preview of a submitted form: template, summary, diagram, findings; and downloads."""

from __future__ import annotations

import functools
import re

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer

from pushstack import diagram, lint, render, summary
from pushstack.options import Options
from pushstack.template import build_template
from webapp import store
from webapp.forms import share_query

bp = Blueprint("preview", __name__)

_FORMATTER = HtmlFormatter(cssclass="highlight")
_LEXERS = {"json": JsonLexer(), "yaml": YamlLexer()}
_NO_STORE = {"Cache-Control": "no-store"}


@functools.lru_cache(maxsize=1)
def _highlight_css() -> str:
    return _FORMATTER.get_style_defs(".highlight")


@bp.get("/highlight.css")
def highlight_css():
    """Pygments' colours, as a file: the CSP allows no inline style."""
    return Response(_highlight_css(), mimetype="text/css")


@bp.get("/preview/<preview_id>")
def show(preview_id: str):
    options = store.recall(preview_id)
    if options is None:
        return _expired()
    fmt = "yaml" if request.args.get("format") == "yaml" else "json"
    template = build_template(options)
    template_dict = render.to_dict(template)
    template_json = render.to_json(template)  # the downloaded file: compact when large
    template_yaml = render.to_yaml(template)
    # Shown indented for reading, whatever the file's layout.
    text = render.to_json(template, indent=2) if fmt == "json" else template_yaml
    try:
        svg = _inline_svg(diagram.render_svg(template_dict))
        diagram_problem = None
    except diagram.DiagramUnavailable as exc:
        svg, diagram_problem = None, str(exc)
    html = render_template(
        "preview.html",
        options=options,
        preview_id=preview_id,
        fmt=fmt,
        highlighted=Markup(highlight(text, _LEXERS[fmt], _FORMATTER)),  # noqa: S704 (Pygments escapes)
        size=len(template_json.encode("utf-8")),
        yaml_size=len(template_yaml.encode("utf-8")),
        compact=text != template_json and fmt == "json",
        limit=render.INLINE_TEMPLATE_LIMIT,
        summary=summary.summarize(template_dict),
        svg=svg,
        diagram_problem=diagram_problem,
        findings=lint.findings(template_json, regions=(options.region,)),
        missing=render.missing_parameters(options, template),
        command=render.create_stack_command(options),
        template_name=render.template_filename(options, "json"),
        yaml_name=render.template_filename(options, "yaml"),
        parameters_name=render.parameters_filename(options),
        share_url=share_url(options),
        share_path=share_url(options, external=False),
    )
    return html, 200, _NO_STORE


# Only these names: any other file under a preview is a plain "no page here" 404.
@bp.get("/preview/<preview_id>/template.<any(json, yaml):fmt>")
def download_template(preview_id: str, fmt: str):
    options = store.recall(preview_id)
    if options is None:
        return _expired()
    template = build_template(options)
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    return _attachment(
        render.render(template, fmt), mimetype, render.template_filename(options, fmt)
    )


@bp.get("/preview/<preview_id>/parameters.json")
def download_parameters(preview_id: str):
    """The only artifact with the crypto key: never cached, never shown."""
    options = store.recall(preview_id)
    if options is None:
        return _expired()
    text = render.parameters_file(options, build_template(options))
    return _attachment(text, "application/json", render.parameters_filename(options))


def share_url(options: Options, *, external: bool = True) -> str:
    return url_for("wizard.form", _external=external, **share_query(options))


def _attachment(text: str, mimetype: str, filename: str) -> Response:
    response = Response(text, mimetype=mimetype, headers=_NO_STORE)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


def _expired():
    return render_template("expired.html"), 404, _NO_STORE


_SVG_START = re.compile(r"<svg\b")


def _inline_svg(markup: str) -> Markup:
    """Graphviz's SVG without its XML prolog, to sit inside the page."""
    match = _SVG_START.search(markup)
    return Markup(markup[match.start() :] if match else "")  # noqa: S704 (Graphviz escapes labels)
