"""What the person chose in each similar set, and which files an export of those choices writes.

- Every member starts ticked; the keeper the core's policy chose (`set_review`; for a plain
  group, its representative) starts as the set's keeper.
- The keeper is always ticked and is written first (`01-name.jpg`); choosing another keeper ticks it.
- Unticked members are left out of every export.
- When the sets are found again (other distance, metric or photos), those choices carry over to
  the same images: a chosen keeper stays its set's keeper, an unticked image stays unticked.
- What to export: "ticked" (the keeper and the ticked members), "keepers" (one file per set, into
  one folder) or "others" (the ticked members without the keeper: the duplicates, to review).
- Several sets go into one sub-folder each (`group-001`, ... as the CLI writes them); a single
  set goes straight into the destination.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval_app.core.cleanup import PlannedMove
    from retrieval_app.core.export import ExportItem
    from retrieval_app.core.groups import Group, GroupMember
    from retrieval_app.core.set_review import ReviewedSet

EXPORT_CHOICES = {
    "ticked": "the keeper and the ticked images",
    "keepers": "only the keeper",
    "others": "only the ticked images, not the keeper",
}


@dataclass
class SetPicks:
    """One set's keeper and the members the person unticked (paths)."""

    keeper: str
    left_out: set[str] = field(default_factory=set)

    @classmethod
    def for_group(
        cls, group: Group, chosen_keepers: Set[str] = frozenset(), unticked: Set[str] = frozenset()
    ) -> SetPicks:
        """The policy's keeper keeps and every member is ticked, except where earlier choices
        (keepers the person chose, images they unticked) name members of this set."""
        paths = [member.path for member in group.members]
        default = getattr(group, "keeper", group.representative).path
        keeper = next((path for path in paths if path in chosen_keepers), default)
        return cls(keeper, {path for path in paths if path in unticked and path != keeper})

    def is_ticked(self, path: str) -> bool:
        return path not in self.left_out

    def set_ticked(self, path: str, ticked: bool) -> bool:
        """Tick or untick a member; the keeper stays ticked (returns False when nothing changed)."""
        if path == self.keeper or ticked == self.is_ticked(path):
            return False
        if ticked:
            self.left_out.discard(path)
        else:
            self.left_out.add(path)
        return True

    def choose_keeper(self, path: str) -> None:
        self.keeper = path
        self.left_out.discard(path)

    def ticked_count(self, group: Group) -> int:
        return sum(self.is_ticked(m.path) for m in group.members)


def cleanup_plan(groups: Sequence[ReviewedSet], picks: dict[int, SetPicks]) -> list[PlannedMove]:
    """What "Move the others to the Trash" moves: in each set, the ticked members other than the
    keeper the person settled on, never a file in a reference folder, of a set kept whole, or one
    that cannot be read now."""
    from retrieval_app.core.cleanup import PlannedMove

    plan = []
    for group in groups:
        choice = picks[group.id]
        if group.kept_all:
            continue
        for member in group.members:
            if member.path == choice.keeper or member.reference or member.facts is None:
                continue
            if choice.is_ticked(member.path):
                plan.append(PlannedMove(member.id, member.path, group.id, choice.keeper, member.tier))
    return plan


def chosen_members(group: Group, picks: SetPicks, what: str) -> tuple[GroupMember, ...]:
    """The members an export of `what` writes for this set, the keeper first."""
    keeper = next(m for m in group.members if m.path == picks.keeper)
    others = tuple(m for m in group.members if m is not keeper and picks.is_ticked(m.path))
    return {"ticked": (keeper, *others), "keepers": (keeper,), "others": others}[what]


def export_items(groups: Sequence[Group], picks: dict[int, SetPicks], what: str) -> list[ExportItem]:
    """Core export items for `groups`: one sub-folder per set when there are several (not for keepers)."""
    from retrieval_app.core.export import items_for_groups
    from retrieval_app.core.groups import Group

    chosen = [Group(g.id, members) for g in groups if (members := chosen_members(g, picks[g.id], what))]
    items = items_for_groups(chosen)
    if what == "keepers" or len(groups) == 1:
        return [replace(item, folder="") for item in items]
    return items


def describe_choice(what: str, whole_library: bool, mode: str) -> str:
    """The sentence under the export controls saying exactly what will be written."""
    verb = "Copies" if mode == "copy" else "Links"
    where = "each set into its own folder (group-001, …)" if whole_library else "this set into the folder"
    sets = "every set" if whole_library else "this set"
    text = {
        "ticked": f"{verb} {where}: the keeper first (01-…), then the ticked images. "
        "Unticked images are left out.",
        "keepers": f"{verb} the keeper of {sets} into the folder, one image per set.",
        "others": f"{verb} {where}: the ticked images except the keeper (the duplicates, to review). "
        "Unticked images and the keeper are left out.",
    }[what]
    return f"{text} A manifest lists every file; your originals are never moved or changed."
