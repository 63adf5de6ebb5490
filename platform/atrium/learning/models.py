"""Model versions, jobs with state and progress, predictions, and the active-learning queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ModelFamily(models.TextChoices):
    SEGMENTATION = "segmentation", "Cardiac segmentation"
    CLASSIFICATION = "classification", "Plane classification"
    RECONSTRUCTION = "reconstruction", "MR reconstruction"


class ModelVersion(models.Model):
    """A trained model: its config, exactly which annotation versions trained it, metrics and weights."""

    study = models.ForeignKey("studies.Study", null=True, blank=True, on_delete=models.SET_NULL)
    family = models.CharField(max_length=20, choices=ModelFamily.choices)
    number = models.PositiveIntegerField()
    config = models.JSONField(default=dict, blank=True)
    training_set = models.JSONField(default=list, blank=True, help_text="annotation version ids")
    metrics = models.JSONField(default=dict, blank=True, help_text="on the study's fixed validation split")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    weights_key = models.CharField(max_length=200, blank=True)
    promoted = models.BooleanField(default=False, help_text="serves pre-annotation for its study")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "family", "number"], name="one_number_per_family"),
            models.UniqueConstraint(
                fields=["study", "family"], condition=models.Q(promoted=True), name="one_promoted_per_family"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family} v{self.number}"


class JobKind(models.TextChoices):
    TRAIN = "train", "Train"
    INFER = "infer", "Infer"
    RECONSTRUCT = "reconstruct", "Reconstruct"
    INGEST = "ingest", "Ingest"
    REPORT = "report", "Report"
    ADAPT = "adapt", "Adapt to a site"
    SIMULATE = "simulate", "Simulate active learning"


GPU_KINDS = frozenset({JobKind.TRAIN, JobKind.INFER, JobKind.RECONSTRUCT, JobKind.ADAPT, JobKind.SIMULATE})


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Job(models.Model):
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    study = models.ForeignKey("studies.Study", null=True, blank=True, on_delete=models.CASCADE)
    params = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    progress_detail = models.JSONField(default=dict, blank=True, help_text="step, loss, metrics, eta_s")
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} job #{self.pk} ({self.state})"

    @property
    def queue(self) -> str:
        return "gpu" if self.kind in GPU_KINDS else "cpu"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES


class Prediction(models.Model):
    """A model's output for a case: contours or per-frame planes. Always records its model version."""

    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    kind = models.CharField(max_length=20)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} for case {self.case_id} by {self.model_version}"


class Round(models.Model):
    """One active-learning round: which model scored the pool, with which strategy."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    strategy = models.CharField(max_length=20)
    n_labelled = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [models.UniqueConstraint(fields=["study", "number"], name="one_round_number_per_study")]

    def __str__(self) -> str:
        return f"round {self.number} of {self.study}"


class QueueItem(models.Model):
    """A case's priority for an observer (or for everyone when `user` is null), from active learning."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="queue_items")
    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="queue_items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    priority = models.FloatField(default=0.0, db_index=True, help_text="higher is served first")
    score = models.FloatField(default=0.0)
    reason = models.CharField(max_length=40, blank=True)
    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="one_queue_item_per_case_and_user"),
        ]
        indexes = [models.Index(fields=["study", "-priority"])]

    def __str__(self) -> str:
        return f"{self.case} p={self.priority:.3f}"


class LearningCurve(models.Model):
    """A simulated active-learning run: validation score against the number of labelled cases, per strategy."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="learning_curves")
    family = models.CharField(max_length=20, choices=ModelFamily.choices)
    strategy = models.CharField(max_length=20)
    metric = models.CharField(max_length=20, help_text="dice or f1")
    params = models.JSONField(default=dict, blank=True, help_text="rounds, batch size, seed, ...")
    points = models.JSONField(default=list, blank=True, help_text="[{n_labelled, score, round}, ...]")
    full_data_score = models.FloatField(null=True, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.strategy} curve for {self.study} ({len(self.points)} points)"
