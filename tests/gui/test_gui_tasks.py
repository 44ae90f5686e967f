"""The background-task helper: one outcome signal per task, progress on the main thread, plain messages."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

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
        (ValueError("not a folder: /nowhere"), "Not a folder: /nowhere"),
        (KeyError("boom"), "Something went wrong (KeyError: 'boom'). Details are in the log."),
        (MemoryError(), "Not enough memory for this operation."),
    ],
)
def test_failures_become_one_plain_sentence(qtbot, error, expected):
    def work(report, cancel):
        raise error

    task = Task("fail", work)
    with qtbot.waitSignal(task.failed, timeout=10_000) as failed:
        task.start()
    assert failed.args[0].startswith(expected)
    assert "Traceback" not in failed.args[0]
    assert describe_error(error).startswith(expected)


def test_finished_tasks_are_freed_not_kept_by_their_parent(qtbot):
    from PySide6.QtCore import QObject

    parent = QObject()
    for _ in range(5):
        task = Task("noop", lambda report, cancel: None, parent)
        with qtbot.waitSignal(task.done, timeout=10_000):
            task.start()
    qtbot.waitUntil(lambda: not parent.findChildren(Task), timeout=5_000)
    assert running_tasks() == []
