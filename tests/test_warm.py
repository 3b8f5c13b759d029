"""The warm-up before serving: the common previews rendered into the shared folder."""

import pytest

import webapp.preview
from webapp import create_app, warm


def test_warm_up_renders_each_log_processing_shape_once_for_every_worker(
    tmp_path, sandbox_target, monkeypatch
):
    folder = tmp_path / "previews"
    config = {"SECRET_KEY": "warm" * 8, "PREVIEW_SHARED_DIR": str(folder)}
    done = warm.warm(create_app(config), wait_for_lint=False)
    assert [line.split(":")[0] for line in done] == [
        "autopush-rs none",
        "autopush-legacy none",
        "autopush-legacy firehose",
        "autopush-legacy processor",
    ]
    assert all(": 200 in " in line for line in done), done
    assert len(list(folder.glob("*.json"))) == 4

    # A worker starting afterwards renders nothing itself: it reads the four files.
    def no_render(options):
        raise AssertionError("rendered again")

    monkeypatch.setattr(webapp.preview, "_render_artifacts", no_render)
    assert all(": 200 in " in line for line in warm.warm(create_app(config), wait_for_lint=False))


@pytest.mark.slow
def test_the_start_command_warms_the_previews_before_the_workers_serve(fake_aws_env, tmp_path):
    from test_security import gunicorn

    folder = tmp_path / "previews"
    with gunicorn(
        tmp_path,
        PUSHSTACK_WORKERS="2",
        PUSHSTACK_PREVIEW_WARM="1",
        PUSHSTACK_PREVIEW_SHARED_DIR=str(folder),
        PUSHSTACK_PREVIEW_LINT_SHARED_DIR=str(tmp_path / "lint"),
    ) as served:
        response, _ = served.request("GET", "/")
        assert response.status == 200
        log = served.output.read_text()
    assert "Previews warmed" in log, log
    for shape in ("autopush-rs none", "autopush-legacy firehose", "autopush-legacy processor"):
        assert f"warm-up: {shape}: 200" in log, log
    assert len(list(folder.glob("*.json"))) == 4
    assert list((tmp_path / "lint").glob("*.json"))  # cfn-lint's findings, ready too
