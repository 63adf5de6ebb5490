"""What changed between two versions of an annotation, in words. Pure: dictionaries in, a string out."""

from __future__ import annotations

from typing import Any


def _label(kind: str, data: dict[str, Any]) -> str:
    if kind == "contour":
        points = data.get("points") or []
        return (
            f"{data.get('structure')} slice {data.get('slice')} phase {data.get('phase')}, "
            f"{len(points)} points ({data.get('mode', 'freehand')})"
        )
    if kind == "plane_label":
        return f"{data.get('plane')} frames {data.get('frame_start')}-{data.get('frame_stop')}"
    if kind == "phases":
        return f"ED {data.get('ed_phase')}, ES {data.get('es_phase')}"
    return ", ".join(f"{key} {value}" for key, value in sorted(data.items()))


def _value(key: str, value: Any) -> str:
    if key == "points" and isinstance(value, list):
        return f"{len(value)} points"
    return str(value)


def describe_change(kind: str, before: dict[str, Any] | None, after: dict[str, Any], *, deleted: bool) -> str:
    """'created: ...', 'deleted', or the changed fields as 'field old -> new' (contour points compared as a
    whole: a moved point says 'points moved', a changed count says '4 points -> 6 points')."""
    if deleted:
        return "deleted"
    if before is None:
        return f"created: {_label(kind, after)}"
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key == "points" and isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            changes.append("points moved")
        else:
            changes.append(f"{key} {_value(key, old)} -> {_value(key, new)}")
    return "; ".join(changes) if changes else "saved without changes"
