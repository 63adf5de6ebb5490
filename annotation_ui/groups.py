"""Channels group names and a helper to push an event to a group from sync code (services, tasks)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from annotation_ui.publisher import publisher


def case_group(case_id: int) -> str:
    return f"case.{case_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


def push(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send {type, ...payload} to every socket in `group`. Best effort: a down layer never fails a write.
    A server layer (Redis) is sent to in the background (`publisher`), so the caller never waits on it;
    the in-process layer is sent to at once, on the event loop its consumers run on."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "relay", "event": {"type": event_type, **payload}}
    if not isinstance(layer, InMemoryChannelLayer):
        publisher.submit(layer, group, message)
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        import logging

        logging.getLogger(__name__).warning("could not push %s to %s", event_type, group, exc_info=True)
