"""Models for the similar-sets page: the sets (largest first) and the members of the open set.

The keeper and the ticks live in SetPicks objects shared with the page; the members model
edits them and says so with `picksChanged`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QStyleOptionViewItem

from .formatting import plural
from .results import BadgeRole, DetailRole, DistanceRole, Index, ThumbnailDelegate, ThumbnailListModel
from .set_picks import SetPicks

if TYPE_CHECKING:
    from retrieval_app.core.groups import Group, GroupMember

KeeperRole = Qt.ItemDataRole.UserRole + 20
TierRole = Qt.ItemDataRole.UserRole + 21
TIER_LABELS = {"exact": "exact copy", "same": "same picture", "similar": "similar shot"}
TIER_BADGES = {"exact": "Exact copy", "same": "Same picture", "similar": "Similar shot"}
CHECK_SIZE = 22
DIMMED = 0.4


class GroupsModel(ThumbnailListModel):
    """One row per set, shown by its representative's thumbnail, its number and size and the ticks."""

    def __init__(self, thumbnails: Any, parent: Any = None) -> None:
        super().__init__(thumbnails, parent)
        self.picks: dict[int, SetPicks] = {}
        self._chosen_keepers: set[str] = set()  # choices remembered across finds, by path
        self._unticked: set[str] = set()

    def row_path(self, row: Any) -> str:
        return row.representative.path

    def set_groups(self, groups: list[Group]) -> None:
        """New sets: every member ticked and each representative its set's keeper, except for the
        images whose keeper or tick the person changed in sets shown since `forget_choices`."""
        self._remember_choices()
        self.picks = {
            group.id: SetPicks.for_group(group, self._chosen_keepers, self._unticked) for group in groups
        }
        self._reset(groups)

    def forget_choices(self) -> None:
        """Start afresh (another library): no remembered keepers or unticked images."""
        self._chosen_keepers.clear()
        self._unticked.clear()

    def _remember_choices(self) -> None:
        """Fold the sets shown now into the remembered choices; their latest state wins."""
        for group in self._rows:
            picks = self.picks[group.id]
            paths = {member.path for member in group.members}
            self._unticked = (self._unticked - paths) | picks.left_out
            self._chosen_keepers -= paths
            if picks.keeper != group.representative.path:
                self._chosen_keepers.add(picks.keeper)

    def groups(self) -> list[Group]:
        return list(self._rows)

    def group(self, row: int) -> Group:
        return self._rows[row]

    def refresh_row(self, group_id: int) -> None:
        """Repaint a set after its ticks or keeper changed."""
        for row, group in enumerate(self._rows):
            if group.id == group_id:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        group = self._rows[index.row()]
        picks = self.picks[group.id]
        ticked = picks.ticked_count(group)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"Set {group.id} · {plural(len(group), 'image')}"
        if role == DetailRole:
            kept = "keep all · " if getattr(group, "kept_all", False) else ""
            return kept + ("all ticked" if ticked == len(group) else f"{ticked} of {len(group)} ticked")
        if role == BadgeRole:
            return set_badge(group)
        if role == TierRole:
            return getattr(group, "tiers", set())
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return (
                f"Set {group.id}: {plural(len(group), 'image')}, {ticked} ticked, "
                f"keeper {os.path.basename(picks.keeper)}"
            )
        return self.image_data(group.representative.path, role)


class MembersModel(ThumbnailListModel):
    """The open set's members, representative first; checkable except the keeper, who is always kept."""

    picksChanged = Signal(int)
    """The id of the set whose keeper or ticks changed."""

    def __init__(self, thumbnails: Any, parent: Any = None) -> None:
        super().__init__(thumbnails, parent)
        self.group: Group | None = None
        self.picks: SetPicks | None = None

    def set_group(self, group: Group | None, picks: SetPicks | None) -> None:
        self.group, self.picks = group, picks
        self._reset(list(group.members) if group is not None else [])

    def member(self, row: int) -> GroupMember:
        return self._rows[row]

    def set_keeper(self, row: int) -> None:
        """Make this member the keeper (which ticks it)."""
        if self.picks is None or self.group is None:
            return
        self.picks.choose_keeper(self._rows[row].path)
        self._changed_all()

    def set_ticked(self, rows: list[int], ticked: bool) -> None:
        """Tick or untick several members at once; the keeper stays ticked."""
        if self.picks is None or self.group is None:
            return
        changed = [self.picks.set_ticked(self._rows[row].path, ticked) for row in rows]
        if any(changed):
            self._changed_all()

    def _changed_all(self) -> None:
        self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))
        self.picksChanged.emit(self.group.id)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or self.picks is None:
            return None
        member = self._rows[index.row()]
        keeper = member.path == self.picks.keeper
        ticked = self.picks.is_ticked(member.path)
        name = os.path.basename(member.path)
        tier = getattr(member, "tier", None)
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == DetailRole:
            if keeper:
                return f"keeper: {self._keeper_reason(member)}"
            label = TIER_LABELS.get(tier, "") if tier else ""
            return f"{label} · {member.distance:.3f}" if label else f"distance {member.distance:.3f}"
        if role == BadgeRole:
            return None if keeper else member_badge(member)  # the keeper wears its own pill
        if role == TierRole:
            return tier
        if role == Qt.ItemDataRole.CheckStateRole:
            if keeper:
                return None
            return Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        if role == KeeperRole:
            return keeper
        if role == DistanceRole:
            return member.distance
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            state = (
                f"keeper ({self._keeper_reason(member)})" if keeper else "ticked" if ticked else "not ticked"
            )
            what = f"{TIER_LABELS[tier]}, " if tier in TIER_LABELS else ""
            where = ", in a reference folder (never moved)" if getattr(member, "reference", False) else ""
            return f"{name}, {what}distance {member.distance:.3f} to the representative, {state}{where}"
        return self.image_data(member.path, role)

    def _keeper_reason(self, member: Any) -> str:
        """Why this member keeps: the policy's reason, or that the person chose it."""
        group = self.group
        if (
            group is not None
            and getattr(group, "keeper", None) is not None
            and group.keeper.path == member.path
        ):
            return group.reason
        return "your choice"

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and not index.data(KeeperRole):
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or self.picks is None:
            return False
        ticked = Qt.CheckState(value) == Qt.CheckState.Checked
        if not self.picks.set_ticked(self._rows[index.row()].path, ticked):
            return False
        self._changed_all()
        return True


class MemberDelegate(ThumbnailDelegate):
    """A result card plus a tick box (or the keeper's label) on the thumbnail; unticked cards are faded."""

    def check_rect(self, option: QStyleOptionViewItem) -> QRect:
        image = self.image_rect(option)
        return QRect(image.right() - CHECK_SIZE - 4, image.top() + 5, CHECK_SIZE, CHECK_SIZE)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        state = index.data(Qt.ItemDataRole.CheckStateRole)
        painter.save()
        if state == Qt.CheckState.Unchecked:
            painter.setOpacity(DIMMED)
        super().paint(painter, option, index)
        painter.restore()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if index.data(KeeperRole):
            self._paint_keeper(painter, option)
        elif state is not None:
            self._paint_check(
                painter, self.check_rect(option), option.palette, state == Qt.CheckState.Checked
            )
        painter.restore()

    def _paint_check(self, painter: QPainter, rect: QRect, palette: QPalette, checked: bool) -> None:
        box = QPainterPath()
        box.addRoundedRect(rect, 5, 5)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.fillPath(box, highlight if checked else QColor(255, 255, 255, 230))
        painter.setPen(QPen(highlight.darker(120) if checked else QColor(90, 90, 90), 1.5))
        painter.drawPath(box)
        if checked:
            painter.setPen(QPen(QColor("white"), 2.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            x, y, s = rect.left(), rect.top(), rect.width()
            painter.drawPolyline(
                [
                    QPoint(x + s * 5 // 22, y + s * 11 // 22),
                    QPoint(x + s * 9 // 22, y + s * 15 // 22),
                    QPoint(x + s * 17 // 22, y + s * 7 // 22),
                ]
            )

    def _paint_keeper(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        image = self.image_rect(option)
        metrics = painter.fontMetrics()
        text = "★ Keeper"
        pill = QRect(0, 0, metrics.horizontalAdvance(text) + 14, metrics.height() + 6)
        pill.moveTopRight(QPoint(image.right() - 4, image.top() + 5))
        path = QPainterPath()
        path.addRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.fillPath(path, option.palette.color(QPalette.ColorRole.Highlight))
        painter.setPen(QColor("white"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)

    def editorEvent(self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: Index) -> bool:
        """A click on the tick box toggles it; keys (Space) go to the standard handling."""
        if event.type() in (QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            state = index.data(Qt.ItemDataRole.CheckStateRole)
            if (
                isinstance(event, QMouseEvent)
                and event.button() == Qt.MouseButton.LeftButton
                and state is not None
                and self.check_rect(option).contains(event.position().toPoint())
            ):
                if event.type() == QEvent.Type.MouseButtonRelease:
                    ticked = state != Qt.CheckState.Checked
                    model.setData(
                        index,
                        Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked,
                        Qt.ItemDataRole.CheckStateRole,
                    )
                return True
            return False
        return super().editorEvent(event, model, option, index)


def member_badge(member: Any) -> str | None:
    """The badge on a member's thumbnail: its tier (to the keeper), and R for a reference-folder file."""
    tier = getattr(member, "tier", None)
    if tier is None:
        return None
    return TIER_BADGES[tier] + (" · R" if getattr(member, "reference", False) else "")


def set_badge(group: Any) -> str | None:
    """A set's badge: the strongest tier among the members other than the keeper."""
    tiers = getattr(group, "tiers", None)
    if not tiers:
        return None
    return TIER_BADGES[next(t for t in ("exact", "same", "similar") if t in tiers)]


def member_rows(indexes: list[QModelIndex]) -> list[int]:
    """Sorted, distinct rows of a selection."""
    return sorted({index.row() for index in indexes})
