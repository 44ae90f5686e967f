"""The system trash: move a file there (send2trash, never a permanent delete) and put it back.

On Linux and other freedesktop systems the file goes where the trash specification says (the
home trash `$XDG_DATA_HOME/Trash`, or the drive's `.Trash/$uid` / `.Trash-$uid`), with its
`.trashinfo`, so the desktop's own "Restore" works too; this module knows that layout, so it can
check a trash is usable before anything moves, say where each file went, and restore it. The
environment is read at each call (tests point XDG_DATA_HOME and HOME at a temporary folder).
Elsewhere (macOS, Windows) send2trash moves files to the system trash and restoring is left to
the system's own Trash ("Put Back").
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from foundation.errors import UserError

FREEDESKTOP = sys.platform not in ("darwin", "win32")


class TrashUnavailableError(UserError, RuntimeError):
    """No usable trash for a file (e.g. a removable drive without one): nothing was moved."""


@dataclass(frozen=True)
class Trash:
    """A freedesktop trash folder and the folder its `.trashinfo` paths are relative to."""

    root: Path
    topdir: Path

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def info(self) -> Path:
        return self.root / "info"


def _data_home() -> Path:
    return Path(os.path.expanduser(os.environ.get("XDG_DATA_HOME") or "~/.local/share"))


def _creatable(folder: Path) -> bool:
    """Whether `folder` exists as a writable folder or could be made (its nearest existing parent is one)."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def _mount_point(path: Path) -> Path:
    path = Path(os.path.realpath(path))
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path


def trash_for(path: str) -> Trash:
    """The trash a file would go to (freedesktop); TrashUnavailableError when none can be used."""
    file_dev = os.lstat(path).st_dev
    if file_dev == os.stat(os.path.realpath(os.path.expanduser("~"))).st_dev:
        trash = Trash(_data_home() / "Trash", _data_home())
        if _creatable(trash.files) and _creatable(trash.info):
            return trash
        raise TrashUnavailableError(f"the trash {trash.root} cannot be used (not a writable folder)")
    top = _mount_point(Path(path))
    uid = str(os.getuid())
    shared = top / ".Trash"
    sticky = shared.is_dir() and not shared.is_symlink() and os.lstat(shared).st_mode & stat.S_ISVTX
    if sticky and _creatable(shared / uid / "files"):
        return Trash(shared / uid, top)
    own = top / f".Trash-{uid}"
    if _creatable(own / "files"):
        return Trash(own, top)
    raise TrashUnavailableError(f"the drive at {top} has no usable trash; nothing was moved")


def move_to_trash(path: str) -> str | None:
    """Move `path` to the system trash; returns where it now lies (freedesktop), else None."""
    if not FREEDESKTOP:
        from send2trash import send2trash

        send2trash(path)
        return None
    from send2trash import plat_other

    data_home = os.fsencode(_data_home())
    plat_other.XDG_DATA_HOME, plat_other.HOMETRASH_B = data_home, os.path.join(data_home, b"Trash")
    plat_other.HOMETRASH = os.fsdecode(plat_other.HOMETRASH_B)
    trash = trash_for(path)
    plat_other.send2trash(path)
    found = _first_slots(trash, path)
    return str(found[-1]) if found else None


def _first_slots(trash: Trash, original: str) -> list[Path]:
    """Like `entries_for`, but only the names send2trash tries first (`name`, `stem 1.ext`, ...) up
    to the first free one, where the file just trashed went: no listing of a large trash."""
    stem, suffix = os.path.splitext(os.path.basename(original))
    found = []
    for counter in range(1_000_000):
        name = f"{stem} {counter}{suffix}" if counter else f"{stem}{suffix}"
        info_file = trash.info / f"{name}.trashinfo"
        if not info_file.exists() and not (trash.files / name).exists():
            break
        if _original_of(trash, info_file) == os.path.normpath(original) and (trash.files / name).exists():
            found.append((info_file.stat().st_mtime_ns, trash.files / name))
    return [p for _, p in sorted(found)]


def _original_of(trash: Trash, info_file: Path) -> str | None:
    try:
        text = info_file.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            original = os.fsdecode(unquote(line[5:], encoding="utf-8", errors="surrogateescape"))
            return os.path.normpath(os.path.join(trash.topdir, original))
    return None


def entries_for(trash: Trash, original: str) -> list[Path]:
    """Files in `trash` whose `.trashinfo` says they came from `original`, oldest trashing first."""
    if not trash.info.is_dir():
        return []
    name = Path(original).name
    stem, suffix = os.path.splitext(name)
    found = []
    for info_file in trash.info.iterdir():
        candidate = info_file.name.removesuffix(".trashinfo")
        if not (candidate == name or (candidate.startswith(stem + " ") and candidate.endswith(suffix))):
            continue
        if (
            _original_of(trash, info_file) == os.path.normpath(original)
            and (trash.files / candidate).exists()
        ):
            found.append((info_file.stat().st_mtime_ns, trash.files / candidate))
    return [p for _, p in sorted(found)]


def restore(trashed: Path, original: str) -> None:
    """Move a trashed file back to `original` (never over an existing file) and drop its `.trashinfo`."""
    if os.path.lexists(original):
        raise FileExistsError(f"a file already sits at {original}")
    os.makedirs(os.path.dirname(original), exist_ok=True)
    try:
        os.link(trashed, original)  # fails rather than replace a file that appeared meanwhile
        os.unlink(trashed)
    except FileExistsError:
        raise
    except OSError:
        shutil.move(trashed, original)  # another drive, or no hard links on this file system
    info_file = trashed.parent.parent / "info" / f"{trashed.name}.trashinfo"
    info_file.unlink(missing_ok=True)
