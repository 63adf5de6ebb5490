"""Reading studies, the cases in them, and who reads which case."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from atrium.annotations.validation import CARDIAC_STRUCTURES


class TaskKind(models.TextChoices):
    CARDIAC = "cardiac", "Cardiac contours"
    ULTRASOUND = "ultrasound", "Ultrasound planes"
    RECON_REVIEW = "recon_review", "Reconstruction review"


class Strategy(models.TextChoices):
    RANDOM = "random", "Random"
    LEAST_CONFIDENCE = "least_confidence", "Least confidence"
    MARGIN = "margin", "Margin"
    ENTROPY = "entropy", "Entropy"
    BALD = "bald", "MC-dropout BALD"
    MC_VARIANCE = "mc_variance", "MC-dropout variance"
    TTA_VARIANCE = "tta_variance", "Test-time-augmentation variance"
    CORESET = "coreset", "Core-set (k-centre greedy)"
    HYBRID = "hybrid", "Uncertainty + diversity"
    DISAGREEMENT = "disagreement", "Disagreement"


def new_deid_salt() -> str:
    import secrets

    return secrets.token_hex(16)


def default_label_schema(task_kind: str) -> dict[str, object]:
    from ml.data.planes import PLANES

    if task_kind == TaskKind.ULTRASOUND:
        return {"planes": list(PLANES)}
    if task_kind == TaskKind.CARDIAC:
        return {"structures": list(CARDIAC_STRUCTURES), "phases": ["ED", "ES"]}
    return {"ratings": ["diagnostic", "acceptable", "non-diagnostic"]}


class Study(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    task_kind = models.CharField(max_length=20, choices=TaskKind.choices)
    label_schema = models.JSONField(default=dict, blank=True)
    blind = models.BooleanField(default=False, help_text="Readers see only their own annotations.")
    blind_hides_model = models.BooleanField(
        default=False, help_text="In blind reading, hide model output too."
    )
    reads_per_case = models.PositiveSmallIntegerField(default=1)
    al_strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ENTROPY)
    retrain_after_n_submissions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retrain automatically after this many new submitted cases."
    )
    keep_original_dicom = models.BooleanField(default=False)
    deid_salt = models.CharField(max_length=64, default=new_deid_salt, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.label_schema:
            self.label_schema = default_label_schema(self.task_kind)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        if self.reads_per_case < 1:
            raise ValidationError({"reads_per_case": "a case needs at least one read"})


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class Split(models.TextChoices):
    POOL = "pool", "Unlabelled pool"
    TRAIN = "train", "Training"
    VALIDATION = "validation", "Fixed validation"


class Case(models.Model):
    """One unit of annotation work: a cine stack or an ultrasound clip within a study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cases")
    series = models.ForeignKey("imaging.Series", on_delete=models.PROTECT, related_name="cases")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    split = models.CharField(max_length=20, choices=Split.choices, default=Split.POOL)
    ed_phase = models.PositiveSmallIntegerField(null=True, blank=True)
    es_phase = models.PositiveSmallIntegerField(null=True, blank=True)
    extra_reads = models.PositiveSmallIntegerField(
        default=0, help_text="reads added beyond the study's reads per case (readers disagreed)"
    )
    site = models.CharField(max_length=100, blank=True)
    vendor = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["study", "series"], name="one_case_per_series")]

    def __str__(self) -> str:
        return self.title

    @property
    def reads_needed(self) -> int:
        return self.study.reads_per_case + self.extra_reads


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"


class Assignment(models.Model):
    """A reader's read of a case. `read_number` > 1 is a repeated read (intra-observer agreement)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    read_number = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user", "read_number"], name="one_assignment_per_read")
        ]

    def __str__(self) -> str:
        return f"{self.user} reads {self.case} (#{self.read_number})"

    @property
    def is_submitted(self) -> bool:
        return self.status == AssignmentStatus.SUBMITTED
