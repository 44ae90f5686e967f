"""What the library's operations return: search results, its status, and indexing and check reports."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

DEFAULT_K = 12  # results a search returns unless asked for another number


@dataclass(frozen=True)
class SearchResult:
    """One neighbour of a query: its rank from 1, file, distance in the metric's units and catalogue id."""

    rank: int
    path: str
    distance: float
    id: int


@dataclass
class FolderStatus:
    """One library folder's files by state."""

    path: str
    files: int
    indexed: int
    skipped: int
    pending: int


@dataclass
class LibraryStatus:
    """What `lookalike status` shows: the model, the folders, counts, skip reasons and the indexes."""

    model: str
    folders: list[FolderStatus]
    files: int
    indexed: int
    pending: int
    skipped: list[tuple[str, str]]
    index_bytes: int
    search: dict[str, dict] = field(default_factory=dict)  # per saved index, see `search_summary`

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "folders": [f.path for f in self.folders],
            "files": self.files,
            "indexed": self.indexed,
            "pending": self.pending,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


@dataclass
class ScanCounts:
    """What a scan found against the catalogue: files added, changed, removed, moved, skipped
    (unreadable) and unchanged."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    moved: int = 0
    skipped: int = 0
    unchanged: int = 0

    def count_scan(self, counts: ScanCounts) -> None:
        """Take a scan's counts as this report's."""
        for name in (f.name for f in fields(ScanCounts)):
            setattr(self, name, getattr(counts, name))


@dataclass
class IndexReport(ScanCounts):
    """What one indexing run did: the scan's counts, then the images embedded (and `skipped`
    grows by the files that failed to decode)."""

    embedded: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    unavailable: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """Drift found between the catalogue, its vectors and the indexes (and whether it was repaired)."""

    missing_from_index: dict[str, int] = field(default_factory=dict)
    extra_in_index: dict[str, int] = field(default_factory=dict)
    vanished_files: int = 0
    repaired: bool = False
    indexed: int = 0  # vectors in the catalogue
    lost: list[str] = field(default_factory=list)  # indexes whose files are gone
    damaged: dict[str, str] = field(default_factory=dict)  # unusable index files, and why
    foreign_vectors: int = 0  # vectors not made by the library's model
    vector_dims: list[int] = field(default_factory=list)  # more than one: mixed models
    to_embed: int = 0  # files waiting for `index` after a repair

    @property
    def empty(self) -> bool:
        """Nothing was ever indexed (as opposed to indexes that were lost)."""
        return self.indexed == 0 and not self.lost and not self.damaged

    @property
    def consistent(self) -> bool:
        return (
            not any(self.missing_from_index.values())
            and not any(self.extra_in_index.values())
            and not self.lost
            and not self.damaged
            and not self.foreign_vectors
            and len(self.vector_dims) <= 1
        )
