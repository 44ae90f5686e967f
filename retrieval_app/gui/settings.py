"""Preferences kept between runs (QSettings): library location, thumbnails, threads, device, layout,
and how similar sets choose their keeper (rule order, reference and preferred folders)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

from retrieval_app.core.library import DEFAULT_K

if TYPE_CHECKING:
    from retrieval_app.core.keeper import KeepPolicy

DEFAULT_THUMBNAIL_SIZE = 160
THUMBNAIL_SIZES = (96, 128, 160, 200, 256)
MAX_RECENT_MODELS = 8


class AppSettings:
    """Typed access to the stored preferences; pass a QSettings (e.g. an INI file) to isolate tests."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings("Lookalike", "Lookalike")

    def _get(self, key: str, default: object, kind: type) -> object:
        value = self.store.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    @property
    def library_dir(self) -> Path | None:
        value = self.store.value("library/location", "")
        return Path(str(value)) if value else None

    @library_dir.setter
    def library_dir(self, path: Path | str | None) -> None:
        self.store.setValue("library/location", str(path) if path else "")

    @property
    def thumbnail_size(self) -> int:
        return int(self._get("view/thumbnail_size", DEFAULT_THUMBNAIL_SIZE, int))

    @thumbnail_size.setter
    def thumbnail_size(self, size: int) -> None:
        self.store.setValue("view/thumbnail_size", int(size))

    @property
    def threads(self) -> int:
        """Threads for the model on the CPU; 0 means one per core."""
        return int(self._get("engine/threads", 0, int))

    @threads.setter
    def threads(self, count: int) -> None:
        self.store.setValue("engine/threads", int(count))

    @property
    def device(self) -> str:
        return str(self._get("engine/device", "auto", str))

    @device.setter
    def device(self, device: str) -> None:
        self.store.setValue("engine/device", device)

    @property
    def metric(self) -> str:
        return str(self._get("search/metric", "euclidean", str))

    @metric.setter
    def metric(self, metric: str) -> None:
        self.store.setValue("search/metric", metric)

    @property
    def k(self) -> int:
        return int(self._get("search/k", DEFAULT_K, int))

    @k.setter
    def k(self, k: int) -> None:
        self.store.setValue("search/k", int(k))

    @property
    def recent_models(self) -> list[str]:
        """Checkpoints used or trained here, newest first."""
        value = self.store.value("models/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(item) for item in items if item]

    def remember_model(self, spec: str) -> None:
        models = [spec] + [m for m in self.recent_models if m != spec]
        self.store.setValue("models/recent", models[:MAX_RECENT_MODELS])

    @property
    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.store.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        value = self.store.value("window/state")
        return value if isinstance(value, QByteArray) else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self.store.setValue("window/state", value)

    @property
    def splitter_state(self) -> QByteArray | None:
        value = self.store.value("window/splitter")
        return value if isinstance(value, QByteArray) else None

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self.store.setValue("window/splitter", value)

    @property
    def keeper_rules(self) -> list[tuple[str, bool]]:
        """The keeper rules in the person's order, each with whether it is switched on."""
        from retrieval_app.core.keeper import RULES

        stored = str(self._get("keeper/rules", ",".join(RULES), str))
        found: list[tuple[str, bool]] = []
        for part in filter(None, (p.strip() for p in stored.split(","))):
            name = part.lstrip("-")
            if name in RULES and name not in {n for n, _ in found}:
                found.append((name, not part.startswith("-")))
        return found + [(rule, True) for rule in RULES if rule not in {n for n, _ in found}]

    @keeper_rules.setter
    def keeper_rules(self, rules: list[tuple[str, bool]]) -> None:
        self.store.setValue("keeper/rules", ",".join(name if on else f"-{name}" for name, on in rules))

    def _folders(self, key: str) -> list[str]:
        value = self.store.value(key, [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(item) for item in items if item]

    @property
    def reference_folders(self) -> list[str]:
        """Folders whose files are never proposed for removal (and win keeper ties)."""
        return self._folders("keeper/reference_folders")

    @reference_folders.setter
    def reference_folders(self, folders: list[str]) -> None:
        self.store.setValue("keeper/reference_folders", list(folders))

    @property
    def preferred_folders(self) -> list[str]:
        return self._folders("keeper/preferred_folders")

    @preferred_folders.setter
    def preferred_folders(self, folders: list[str]) -> None:
        self.store.setValue("keeper/preferred_folders", list(folders))

    def keep_policy(self) -> KeepPolicy:
        """The core keeper policy these settings describe."""
        from retrieval_app.core.keeper import KeepPolicy

        rules = tuple(name for name, on in self.keeper_rules if on)
        return KeepPolicy(rules, tuple(self.reference_folders), tuple(self.preferred_folders))

    def sync(self) -> None:
        self.store.sync()
