"""Thin websocket consumers: authorise, join a group, relay events. No business logic here."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotation_ui.groups import case_group, job_group, user_group


class _RelayConsumer(AsyncJsonWebsocketConsumer):
    group: str = ""

    async def relay(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _join(self, group: str) -> None:
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "group": group})


class CaseConsumer(_RelayConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        case_id = int(self.scope["url_route"]["kwargs"]["case_id"])
        if user is None or not user.is_authenticated or not await _can_view_case(user, case_id):
            await self.close(code=4403)
            return
        await self._join(case_group(case_id))


class QueueConsumer(_RelayConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self._join(user_group(user.pk))


class JobConsumer(_RelayConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        if user is None or not user.is_authenticated or not await _can_view_job(user, job_id):
            await self.close(code=4403)
            return
        await self._join(job_group(job_id))


@database_sync_to_async
def _can_view_case(user: Any, case_id: int) -> bool:
    from atrium.studies.selectors import cases_visible_to

    return cases_visible_to(user).filter(pk=case_id).exists()


@database_sync_to_async
def _can_view_job(user: Any, job_id: int) -> bool:
    from atrium.learning.selectors import jobs_visible_to

    return jobs_visible_to(user).filter(pk=job_id).exists()
