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

    @property
    def is_computed(self) -> bool:
        return self.computed_at is not None


class CachedResult(models.Model):
    """One case's result for one reader (measures) or one reader pair (contour metrics), keyed by a hash
    of the annotation versions / predictions and the case geometry it came from, so an unchanged case is
    never recomputed."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="agreement_cache")
    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="agreement_cache")
    key = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "key"], name="one_cached_result_per_key")]

    def __str__(self) -> str:
        return f"cached agreement result {self.key[:8]} for case {self.case_id}"
