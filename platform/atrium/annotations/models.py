"""An annotation is one contour or one plane-label range; its content lives in immutable versions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AnnotationKind(models.TextChoices):
    CONTOUR = "contour", "Contour"
    PLANE_LABEL = "plane_label", "Plane label"
    PHASES = "phases", "ED/ES phases"


class Annotation(models.Model):
    """The head of a version chain. `version` is the number of the current version (optimistic lock)."""

    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    assignment = models.ForeignKey(
        "studies.Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    kind = models.CharField(max_length=20, choices=AnnotationKind.choices)
    version = models.PositiveIntegerField(default=1)
    data = models.JSONField(help_text="a copy of the current version's data, for fast reads")
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["case", "author"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} v{self.version} by {self.author}"


class ImmutableVersionError(Exception):
    pass


class AnnotationVersion(models.Model):
    """One saved state of an annotation: written once, never updated or deleted."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    data = models.JSONField()
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "number"], name="one_version_number_per_annotation")
        ]

    def __str__(self) -> str:
        return f"annotation {self.annotation_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableVersionError("annotation versions are immutable; save a new version instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableVersionError("annotation versions are immutable and cannot be deleted")
