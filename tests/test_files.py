"""`foundation.files.open_regular`: photos are read byte for byte, and nothing but a regular file is opened."""

from __future__ import annotations

import os

import pytest

from foundation.files import NotRegularFileError, open_regular

# a PNG signature holds both a CR LF and a Ctrl-Z, which a text-mode read on Windows would mangle
AWKWARD_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_a_regular_file_is_read_byte_for_byte(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(AWKWARD_BYTES)
    with open_regular(path) as handle:
        assert handle.read() == AWKWARD_BYTES


def test_a_folder_is_refused_as_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path).close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes in folders are POSIX only")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="not an image file but a named pipe"):
        open_regular(fifo).close()  # O_NONBLOCK: returns at once, no writer needed


def test_without_non_blocking_opens_the_blocking_mode_is_left_alone(tmp_path, monkeypatch):
    """As on Windows: no O_NONBLOCK, and set_blocking refuses anything but a pipe."""

    def refuses(fd: int, blocking: bool) -> None:
        raise OSError(22, "set_blocking works on pipes only")

    monkeypatch.delattr(os, "O_NONBLOCK", raising=False)
    monkeypatch.setattr(os, "set_blocking", refuses)
    path = tmp_path / "a.jpg"
    path.write_bytes(AWKWARD_BYTES)
    with open_regular(path) as handle:
        assert handle.read() == AWKWARD_BYTES
