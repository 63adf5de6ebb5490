"""Stored agreement reports, recomputed on the cpu queue and never computed inside a request."""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="agreement_report")
    data = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    stale = models.BooleanField(default=True, help_text="annotations changed since it was computed")

    def __str__(self) -> str:
        return f"agreement report for {self.study}"
