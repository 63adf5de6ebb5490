"""Channels group names and a helper to push an event to a group from sync code (services, tasks)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def case_group(case_id: int) -> str:
    return f"case.{case_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


def push(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send {type, ...payload} to every socket in `group`. Best effort: a down layer never fails a write."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "relay", "event": {"type": event_type, **payload}})
    except Exception:
        import logging

        logging.getLogger(__name__).warning("could not push %s to %s", event_type, group, exc_info=True)
