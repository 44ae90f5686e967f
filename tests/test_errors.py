"""A `UserError` is one line (exit 2); anything else is a bug: logged with its traceback, exit 1,
and the one line says where the log is."""

from __future__ import annotations

import argparse
import sys

import platformdirs
import pytest

from foundation import logs
from foundation.atomicio import atomic_write_bytes
from foundation.errors import FileAccessError, InputError, UserError
from foundation.logs import LOG_DIR_ENV, LOG_NAME, install_excepthook, log_path, log_unexpected
from retrieval_app.cli import library_commands
from retrieval_app.cli.main import main
from trainer.cli import user_errors


def broken_status(args: argparse.Namespace) -> int:
    return {}["no such key"]


def test_a_bug_in_the_cli_is_logged_and_exits_1(log_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(library_commands, "cmd_status", broken_status)
    assert main(["--library", str(tmp_path / "lib"), "status"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("lookalike: Something went wrong (KeyError: 'no such key')")
    assert err.endswith(f"Details are in {log_dir / LOG_NAME}.")
    logged = (log_dir / LOG_NAME).read_text()
    assert "Traceback" in logged and "broken_status" in logged and "lookalike status failed" in logged


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("--epochs must be 0 or more"), 2),
        (FileAccessError(13, "cannot write /x/m.safetensors: Permission denied", "/x/m.safetensors"), 2),
        (ValueError("operands could not be broadcast"), 1),  # no longer mistaken for bad input
        (OSError("a bug that touched a file"), 1),
    ],
)
def test_trainer_commands_keep_their_exit_codes(log_dir, capsys, error, code):
    @user_errors
    def handler(args: argparse.Namespace) -> int:
        raise error

    assert handler(argparse.Namespace()) == code
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    logged = (log_dir / LOG_NAME).read_text() if (log_dir / LOG_NAME).exists() else ""
    if code == 2:
        assert err == f"lookalike: error: {error}" and str(error) not in logged
    else:
        assert str(log_dir / LOG_NAME) in err and "Traceback" in logged and str(error) in logged


def test_a_user_error_in_the_cli_exits_2_and_is_not_logged(log_dir, capsys, tmp_path):
    assert main(["--library", str(tmp_path / "lib"), "index", str(tmp_path / "no such folder")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lookalike: error:") and "\n" not in err
    assert not (log_dir / LOG_NAME).exists()


def test_an_unwritable_target_is_a_user_error_naming_it(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(FileAccessError) as caught:
        atomic_write_bytes(blocker / "out.bin", b"data")
    assert isinstance(caught.value, UserError) and isinstance(caught.value, OSError)
    assert str(caught.value).startswith(f"cannot write {blocker / 'out.bin'}: ")
    assert list(tmp_path.iterdir()) == [blocker]  # nothing left behind


def test_the_log_lives_in_the_user_log_folder_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(LOG_DIR_ENV)
    assert log_path().parent == type(log_path())(platformdirs.user_log_dir("Lookalike", appauthor=False))
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path))
    assert log_path() == tmp_path / LOG_NAME


def test_an_uncaught_exception_is_logged_then_shown_as_before(log_dir, monkeypatch):
    shown = []
    monkeypatch.setattr(sys, "excepthook", lambda *info: shown.append(info))
    install_excepthook()

    def slot_with_a_bug():
        raise RuntimeError("a slot failed")

    try:
        slot_with_a_bug()
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert len(shown) == 1 and shown[0][1].args == ("a slot failed",)
    logged = (log_dir / LOG_NAME).read_text()
    assert "uncaught exception" in logged and "slot_with_a_bug" in logged


def test_the_log_rotates_instead_of_growing(log_dir, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 4_000)
    for number in range(20):
        try:
            raise RuntimeError(f"bug number {number}: " + "x" * 300)
        except RuntimeError as exc:
            log_unexpected(exc, "rotation")
    kept = sorted(path.name for path in log_dir.iterdir())
    assert kept == [LOG_NAME, *(f"{LOG_NAME}.{n}" for n in range(1, logs.BACKUPS + 1))]
    assert all(path.stat().st_size <= 4_000 + 2_000 for path in log_dir.iterdir())
    assert "bug number 19" in (log_dir / LOG_NAME).read_text()
