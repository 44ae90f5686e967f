"""Similar sets ready to act on: each member's tier, the keeper and why, and what may be removed.

`find_sets` is what the CLI and the GUI call: the library's groups (split by the person's "not
similar" decisions), then for every set the keeper chosen by the policy (`keeper`), each member's
tier relative to that keeper (`tiers`), and which members a clean-up may move: never the keeper,
never a file in a reference folder, never a file of a set the person chose to keep whole, never
a file that cannot be read now.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from foundation.images import ImageLoadError

from . import groups as grouping
from .decisions import Decisions
from .groups import DEFAULT_MAX_DISTANCE, DEFAULT_NEIGHBOURS, Group
from .keeper import FileFacts, KeepPolicy, choose_keeper, in_folders, read_facts
from .progress import CancelToken, ProgressCallback, ProgressMeter
from .tiers import EXACT, SIMILAR, TIERS, PixelPrint, content_hash, likeness, pixel_print

if TYPE_CHECKING:
    from .library import Library


@dataclass(frozen=True)
class ReviewedMember:
    id: int
    path: str
    distance: float
    """Embedding distance to the set's representative."""
    tier: str
    """How this file relates to the keeper (for the keeper: its closest relation in the set)."""
    pixel_difference: float | None
    facts: FileFacts | None
    reference: bool
    keeper: bool
    removable: bool


@dataclass(frozen=True)
class ReviewedSet:
    id: int
    members: tuple[ReviewedMember, ...]
    """In the set's order: its representative first."""
    keeper_index: int
    rule: str | None
    """The keeper rule that decided (None: a tie)."""
    reason: str
    kept_all: bool
    """The person chose to keep every file of this set."""

    @property
    def representative(self) -> ReviewedMember:
        return self.members[0]

    @property
    def keeper(self) -> ReviewedMember:
        return self.members[self.keeper_index]

    @property
    def tiers(self) -> set[str]:
        """The tiers of the members other than the keeper."""
        return {m.tier for m in self.members if not m.keeper}

    @property
    def unreadable(self) -> list[ReviewedMember]:
        """Members that vanished or cannot be read since indexing: never moved, worth saying."""
        return [m for m in self.members if m.facts is None]

    def to_remove(self, tiers: Collection[str] = TIERS) -> list[ReviewedMember]:
        """The members a clean-up limited to `tiers` would move to the trash."""
        return [m for m in self.members if m.removable and m.tier in tiers]

    def __len__(self) -> int:
        return len(self.members)


def find_sets(
    library: Library,
    metric: str = "euclidean",
    max_distance: float = DEFAULT_MAX_DISTANCE,
    min_size: int = 2,
    k: int = DEFAULT_NEIGHBOURS,
    policy: KeepPolicy | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    flips: bool = True,
) -> list[ReviewedSet]:
    """The library's similar sets under `metric`, with the person's decisions applied, reviewed
    (`flips`: rotated and mirrored copies join their originals' sets, see `find_groups`)."""
    decisions = Decisions(library.catalogue)
    apart = decisions.apart()
    groups = grouping.find_groups(
        library,
        metric,
        max_distance,
        min_size,
        k,
        progress=progress,
        cancel=cancel,
        apart=apart,
        flips=flips,
    )
    return review_groups(groups, policy or KeepPolicy(), decisions.kept_all(), progress, cancel)


def review_groups(
    groups: Sequence[Group],
    policy: KeepPolicy,
    kept_all: Sequence[frozenset[int]] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[ReviewedSet]:
    """Keeper, tiers and removability for each group (reads each member's header; hashes only
    files as large as their keeper; decodes small only those that are not exact copies)."""
    meter = ProgressMeter("comparing", sum(len(g) for g in groups), progress)
    meter.report()
    reviewed = []
    for group in groups:
        if cancel is not None:
            cancel.raise_if_cancelled()
        reviewed.append(_review(group, policy, kept_all))
        meter.advance(len(group))
    return reviewed


def _review(group: Group, policy: KeepPolicy, kept_all: Sequence[frozenset[int]]) -> ReviewedSet:
    facts = [read_facts(m.path) for m in group.members]
    choice = choose_keeper(facts, policy)
    keeper_facts = facts[choice.index]
    whole = frozenset(m.id for m in group.members)
    kept = any(whole <= decision for decision in kept_all)
    keeper_hash: str | None = None
    keeper_print: PixelPrint | None = None
    relations: list[tuple[str, float | None]] = []
    for i, (member, fact) in enumerate(zip(group.members, facts, strict=True)):
        if i == choice.index or fact is None or keeper_facts is None:
            relations.append((SIMILAR, None))
            continue
        if fact.size == keeper_facts.size:
            keeper_hash = keeper_hash or _hash(keeper_facts.path)
            if keeper_hash is not None and _hash(fact.path) == keeper_hash:
                relations.append((EXACT, None))
                continue
        keeper_print = keeper_print or _print(keeper_facts.path)
        found = likeness(None, None, keeper_print, _print(member.path))
        relations.append((found.tier, found.pixel_difference))
    others = [tier for i, (tier, _) in enumerate(relations) if i != choice.index]
    strongest = min(others, key=TIERS.index) if others else SIMILAR
    members = []
    for i, (member, fact) in enumerate(zip(group.members, facts, strict=True)):
        is_keeper = i == choice.index
        reference = in_folders(member.path, policy.reference_folders)
        tier, difference = (strongest, None) if is_keeper else relations[i]
        removable = not (is_keeper or reference or kept or fact is None or keeper_facts is None)
        members.append(
            ReviewedMember(
                member.id,
                member.path,
                member.distance,
                tier,
                difference,
                fact,
                reference,
                is_keeper,
                removable,
            )
        )
    return ReviewedSet(group.id, tuple(members), choice.index, choice.rule, choice.reason, kept)


def _hash(path: str) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None


def _print(path: str) -> PixelPrint | None:
    try:
        return pixel_print(path)
    except (ImageLoadError, OSError):
        return None


def with_tiers(sets: Sequence[ReviewedSet], tiers: Collection[str]) -> list[ReviewedSet]:
    """The sets holding at least one member (other than the keeper) of one of `tiers`."""
    wanted = set(tiers)
    return [s for s in sets if s.tiers & wanted]


def describe_member(member: ReviewedMember) -> str:
    """One line of facts about a member: dimensions, format, size (for the CLI and tooltips)."""
    fact = member.facts
    if fact is None:
        return "cannot be read now"
    return (
        f"{fact.width}×{fact.height} {fact.format} {fact.size / 1e3:.0f} kB, {os.path.basename(member.path)}"
    )
