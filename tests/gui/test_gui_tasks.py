"""The background-task helper: one outcome signal per task, progress on the main thread, plain messages."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from foundation.errors import InputError
from foundation.logs import LOG_NAME
from retrieval_app.core.progress import Progress
from retrieval_app.gui.tasks import Task, describe_error, running_tasks


def test_result_and_progress_arrive_on_the_main_thread(qtbot):
    seen_threads = []
    reports = []

    def work(report, cancel):
        seen_threads.append(threading.current_thread())
        for done in range(0, 4):
            report(Progress("counting", done, 3))
        return sum(range(10))

    task = Task("sum", work)
    task.progressed.connect(lambda p: reports.append((p.done, QThread.currentThread())))
    with qtbot.waitSignal(task.done, timeout=10_000), qtbot.waitSignal(task.finished) as finished:
        task.start()
    assert finished.args == [45]
    assert seen_threads[0] is not threading.main_thread()
    assert (
        reports[0][0] == 0 and reports[-1][0] == 3
    )  # first and last always arrive, middle ones may be thinned
    assert all(thread is qtbot_main_thread() for _, thread in reports)
    qtbot.waitUntil(lambda: task not in running_tasks())


def qtbot_main_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_cancel_reaches_the_callable_and_ends_as_cancelled(qtbot):
    started = threading.Event()

    def work(report, cancel):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        return "partial"

    task = Task("loop", work)
    outcomes = []
    task.finished.connect(lambda r: outcomes.append(("finished", r)))
    task.failed.connect(lambda m: outcomes.append(("failed", m)))
    task.cancelled.connect(lambda r: outcomes.append(("cancelled", r)))
    task.start()
    assert started.wait(10)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.cancel()
    assert outcomes == [("cancelled", "partial")]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InputError("not a folder: /nowhere"), "Not a folder: /nowhere"),
        (KeyError("boom"), "Something went wrong (KeyError: 'boom'). Details are in {log}."),
        (ValueError("bad shape"), "Something went wrong (ValueError: bad shape). Details are in {log}."),
        (MemoryError(), "Not enough memory for this operation."),
    ],
)
def test_failures_become_one_plain_sentence(qtbot, log_dir, error, expected):
    def work(report, cancel):
        raise error

    expected = expected.format(log=log_dir / LOG_NAME)
    task = Task("fail", work)
    with qtbot.waitSignal(task.failed, timeout=10_000) as failed:
        task.start()
    assert failed.args[0].startswith(expected)
    assert "Traceback" not in failed.args[0] and "\n" not in failed.args[0]
    assert describe_error(error).startswith(expected)


def test_a_bug_is_logged_with_its_traceback_and_a_user_error_is_not(log_dir):
    def broken_step():
        return {}["missing key"]

    try:
        broken_step()
    except KeyError as exc:
        describe_error(exc)
    describe_error(InputError("a person's mistake"))
    logged = (log_dir / LOG_NAME).read_text()
    assert "Traceback" in logged and "broken_step" in logged and "KeyError: 'missing key'" in logged
    assert "a person's mistake" not in logged


def test_finished_tasks_are_freed_not_kept_by_their_parent(qtbot):
    from PySide6.QtCore import QObject

    parent = QObject()
    for _ in range(5):
        task = Task("noop", lambda report, cancel: None, parent)
        with qtbot.waitSignal(task.done, timeout=10_000):
            task.start()
    qtbot.waitUntil(lambda: not parent.findChildren(Task), timeout=5_000)
    assert running_tasks() == []
