"""The warm-up before serving: the common previews rendered into the shared folder."""

import webapp.preview
from webapp import create_app, warm


def test_warm_up_renders_each_log_processing_shape_once_for_every_worker(
    tmp_path, sandbox_target, monkeypatch
):
    folder = tmp_path / "previews"
    config = {"SECRET_KEY": "warm" * 8, "PREVIEW_SHARED_DIR": str(folder)}
    done = warm.warm(create_app(config), wait_for_lint=False)
    assert [line.split(":")[0] for line in done] == ["none", "firehose", "processor"]
    assert all(": 200 in " in line for line in done), done
    assert len(list(folder.glob("*.json"))) == 3

    # A worker starting afterwards renders nothing itself: it reads the three files.
    def no_render(options):
        raise AssertionError("rendered again")

    monkeypatch.setattr(webapp.preview, "_render_artifacts", no_render)
    assert all(": 200 in " in line for line in warm.warm(create_app(config), wait_for_lint=False))
