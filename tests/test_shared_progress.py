"""Stack progress shared by worker processes through files: real processes, one fetch per interval."""

import multiprocessing
import os
import time
from datetime import UTC, datetime

import pytest

from pushstack.cloud import CloudError, Event, Failure, Progress
from webapp.cloud import SharedCache
from webapp.shared_progress import ProgressFiles, decode, encode

KEY = ("sandbox", "http://127.0.0.1:5999", "123456789012", "us-east-1", "push-test")


def progress(status="CREATE_IN_PROGRESS") -> Progress:
    return Progress(
        name="push-test",
        stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/push-test/1",
        status=status,
        reason="",
        done=3,
        total=40,
        events=(
            Event(
                "e1",
                datetime(2026, 12, 3, 11, 0, tzinfo=UTC),
                "RouterTable",
                "AWS::DynamoDB::Table",
                "CREATE_COMPLETE",
                "",
                "autopush_router",
            ),
        ),
        outputs={"WebSocketUrl": "ws://push.example.com"},
        failure=Failure("Redis", "quota"),
        finished=False,
        blocking=("LogBucket",),
        not_emulated=("Redis",),
    )


def test_progress_survives_the_file_unchanged():
    assert decode(encode(progress())) == progress()


def _worker(folder, log, start, seconds, interval, error):
    """One 'worker process': polls the stack as its viewers would, every 0.1 s."""
    cache = SharedCache(interval, store=ProgressFiles(folder))

    def fetch():
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        if error:
            raise CloudError("Rate exceeded.", "Wait a moment.", "Throttling")
        return progress()

    while time.time() < start:
        time.sleep(0.01)
    seen = set()
    while time.time() < start + seconds:
        try:
            seen.add(cache.get(KEY, fetch).status)
        except CloudError as exc:
            seen.add(exc.code)
        time.sleep(0.1)
    assert seen == ({"Throttling"} if error else {"CREATE_IN_PROGRESS"})


def run_workers(tmp_path, count, seconds, interval, error=False):
    folder, log = tmp_path / "progress", tmp_path / "fetches.log"
    log.write_text("")
    context = multiprocessing.get_context("fork")  # as gunicorn makes its workers
    start = time.time() + 0.5
    workers = [
        context.Process(target=_worker, args=(folder, log, start, seconds, interval, error))
        for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    return log.read_text().split()


def test_two_processes_polling_a_stack_make_one_fetch_per_interval(tmp_path):
    fetches = run_workers(tmp_path, count=2, seconds=1.5, interval=3)
    assert len(fetches) == 1


def test_four_processes_fetch_again_once_the_interval_has_passed(tmp_path):
    fetches = run_workers(tmp_path, count=4, seconds=2.4, interval=1)
    # 2.4 s at one fetch a second: 3 fetches (at 0, 1 and 2 s) for the four of them
    assert 2 <= len(fetches) <= 3


def test_a_failure_is_shared_too_so_a_throttled_target_is_not_asked_by_every_process(tmp_path):
    fetches = run_workers(tmp_path, count=2, seconds=1.5, interval=3, error=True)
    assert len(fetches) == 1


def test_forget_makes_every_process_ask_again(tmp_path):
    store = ProgressFiles(tmp_path / "progress")
    calls = []
    cache = SharedCache(60, store=store)
    cache.get(KEY, lambda: calls.append(1) or progress())
    other = SharedCache(60, store=ProgressFiles(tmp_path / "progress"))  # another process
    assert other.get(KEY, lambda: pytest.fail("read from the file")).status == "CREATE_IN_PROGRESS"
    cache.forget(KEY)  # this process started an operation
    third = SharedCache(60, store=ProgressFiles(tmp_path / "progress"))
    assert third.get(KEY, lambda: progress("UPDATE_IN_PROGRESS")).status == "UPDATE_IN_PROGRESS"


def test_the_process_asking_next_is_given_the_last_answer_however_old(tmp_path):
    """The fetch of the process whose turn it is gets the last answer any process wrote
    (Cloud.progress then reads only the events that are new since)."""
    clock = [1000.0]
    first = SharedCache(2, store=ProgressFiles(tmp_path / "progress", clock=lambda: clock[0]))
    given = []
    first.get(KEY, lambda previous: given.append(previous) or progress(), with_stale=True)
    assert given == [None]  # nobody asked before
    clock[0] += 5  # past the interval: another process's turn
    other = SharedCache(2, store=ProgressFiles(tmp_path / "progress", clock=lambda: clock[0]))
    later = progress("CREATE_COMPLETE")
    assert (
        other.get(KEY, lambda previous: given.append(previous) or later, with_stale=True) == later
    )
    assert given[1] == progress()


def test_a_folder_others_can_open_is_not_used(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    assert not ProgressFiles(folder).usable()
    calls = []
    cache = SharedCache(60, store=ProgressFiles(folder))
    cache.get(KEY, lambda: calls.append(1) or progress())
    assert calls == [1] and not list(folder.iterdir())


def test_the_wizard_shares_progress_through_its_folder_setting(tmp_path):
    from webapp import create_app
    from webapp.cloud import get_access

    shared = create_app({"SECRET_KEY": "s" * 32, "PROGRESS_SHARED_DIR": str(tmp_path)})
    alone = create_app({"SECRET_KEY": "s" * 32, "PROGRESS_SHARED_DIR": ""})
    with shared.app_context():
        assert get_access().progress.store.folder == tmp_path
    with alone.app_context():
        assert get_access().progress.store is None


def test_one_clients_rate_limit_is_never_shared_with_the_other_processes(tmp_path):
    """A refusal by the per-client AWS-call bound (webapp.limits) answers that client
    only: it is neither written to the shared file nor kept, so the next viewer asks."""
    from webapp.limits import RATE_LIMITED

    cache = SharedCache(60.0, store=ProgressFiles(str(tmp_path)))
    calls = []

    def limited():
        calls.append("limited")
        raise CloudError("Too many AWS calls from this browser.", "Wait a minute.", RATE_LIMITED)

    with pytest.raises(CloudError) as refused:
        cache.get(KEY, limited)
    assert refused.value.code == RATE_LIMITED
    assert cache.get(KEY, progress) == progress()  # asked again at once, and answered
    other = SharedCache(60.0, store=ProgressFiles(str(tmp_path)))  # another worker process
    assert other.get(KEY, limited) == progress()  # the shared answer, not the refusal
    assert calls == ["limited"]
