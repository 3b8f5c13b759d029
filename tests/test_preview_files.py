"""Rendered previews shared by worker processes through files: real processes, one render per shape."""

import multiprocessing
import time
from urllib.parse import urlsplit

from conftest import PROCESSOR_FORM, VALID_FORM

import webapp.preview
from webapp import create_app
from webapp.preview_files import PreviewFiles


def _worker(folder, log, start, form):
    """One 'worker process' of the wizard: its own app, the same shared folder."""
    renders = []
    original = webapp.preview._render_artifacts

    def counted(options):
        renders.append(1)
        with open(log, "a") as handle:
            handle.write("render\n")
        return original(options)

    webapp.preview._render_artifacts = counted
    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "shared",
            "PREVIEW_SHARED_DIR": str(folder),
        }
    )
    client = app.test_client()
    while time.time() < start:
        time.sleep(0.01)
    response = client.post("/", data=form)
    page = client.get(urlsplit(response.headers["Location"]).path).get_data(as_text=True)
    assert "Resources by type" in page and "AWS::DynamoDB::Table" in page
    assert ("<svg" in page) or ("No diagram:" in page)
    assert "What it costs a month" in page


def run(tmp_path, forms):
    folder, log = tmp_path / "previews", tmp_path / "renders.log"
    log.write_text("")
    context = multiprocessing.get_context("fork")  # as gunicorn makes its workers
    start = time.time() + 1
    workers = [context.Process(target=_worker, args=(folder, log, start, form)) for form in forms]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    return log.read_text().split()


# The workers use the session's sandbox (sandbox_target): one started by a forked worker
# would outlive it, since a forked process ends without its exit handlers.
def test_two_processes_render_a_shape_once_between_them(tmp_path, sandbox_target):
    assert run(tmp_path, [VALID_FORM, {**VALID_FORM, "stack_name": "other"}]) == ["render"]


def test_different_shapes_are_each_rendered_once(tmp_path, sandbox_target):
    forms = [VALID_FORM, PROCESSOR_FORM, VALID_FORM, PROCESSOR_FORM]
    assert run(tmp_path, forms) == ["render", "render"]


def test_a_folder_others_can_open_is_not_used(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    assert PreviewFiles(folder).get(("k",), lambda: "rendered", lambda f: "read") == "rendered"
    assert list(folder.iterdir()) == []
