"""Websocket routes."""

from django.urls import path

from annotation_ui import consumers

websocket_urlpatterns = [
    path("ws/cases/<int:case_id>/", consumers.CaseConsumer.as_asgi()),
    path("ws/queue/", consumers.QueueConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/", consumers.JobConsumer.as_asgi()),
]
