"""Patients, imaging studies, series (assembled arrays in the pixel store) and their instances."""

from __future__ import annotations

from django.db import models


class Patient(models.Model):
    """A de-identified patient: only the per-study pseudonym is kept, never the real name or ID."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="patients")
    pseudonym = models.CharField(max_length=64)
    sex = models.CharField(max_length=1, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "pseudonym"], name="one_pseudonym_per_study")]

    def __str__(self) -> str:
        return self.pseudonym


class ImagingStudy(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="imaging_studies")
    study_instance_uid = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    study_date = models.DateField(null=True, blank=True)
    site = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "imaging studies"

    def __str__(self) -> str:
        return self.study_instance_uid


class Layout(models.TextChoices):
    CINE = "cine", "Short-axis cine (slice, phase, H, W)"
    CLIP = "clip", "Clip (frame, H, W)"
    STACK = "stack", "Stack (slice, H, W)"


class Source(models.TextChoices):
    DICOM = "dicom", "DICOM"
    NIFTI = "nifti", "NIfTI"
    RECONSTRUCTION = "reconstruction", "Reconstruction"


class Series(models.Model):
    """One assembled array in the pixel store; frames are served from it without decoding DICOM."""

    imaging_study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=16)
    description = models.CharField(max_length=200, blank=True)
    layout = models.CharField(max_length=10, choices=Layout.choices)
    shape = models.JSONField(help_text="array shape, e.g. [S, P, H, W] for cine or [F, H, W] for a clip")
    dtype = models.CharField(max_length=10)
    pixel_spacing_mm = models.JSONField(default=list, blank=True, help_text="[row, column] in mm")
    slice_thickness_mm = models.FloatField(null=True, blank=True)
    slice_spacing_mm = models.FloatField(null=True, blank=True)
    frame_time_ms = models.FloatField(null=True, blank=True)
    window_center = models.FloatField(null=True, blank=True)
    window_width = models.FloatField(null=True, blank=True)
    manufacturer = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.DICOM)
    store_key = models.CharField(max_length=200, help_text="pixel-store key of the array")
    color_store_key = models.CharField(
        max_length=200, blank=True, help_text="RGB original beside the grey array"
    )
    label_store_key = models.CharField(max_length=200, blank=True, help_text="reference label map, if any")
    derived_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.modality} {self.series_instance_uid}"

    @property
    def frame_shape(self) -> tuple[int, int]:
        return int(self.shape[-2]), int(self.shape[-1])

    @property
    def n_frames(self) -> int:
        count = 1
        for extent in self.shape[:-2]:
            count *= int(extent)
        return count

    def frame_index(self, slice_index: int, phase: int) -> int:
        """Flattened frame index of (slice, phase) in a cine: slice * P + phase."""
        if self.layout != Layout.CINE:
            raise ValueError("slice/phase addressing applies to cine series only")
        return slice_index * int(self.shape[1]) + phase


class Instance(models.Model):
    """One DICOM instance (SOP) and the frames of the series array it filled."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    first_frame = models.PositiveIntegerField(help_text="flattened index of its first frame in the series")
    n_frames = models.PositiveIntegerField(default=1)
    slice_index = models.PositiveIntegerField(null=True, blank=True)
    phase_index = models.PositiveIntegerField(null=True, blank=True)
    trigger_time_ms = models.FloatField(null=True, blank=True)
    slice_location_mm = models.FloatField(null=True, blank=True, help_text="position along the slice normal")
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)
    original_key = models.CharField(max_length=200, blank=True, help_text="kept original file, if opted in")
    dicom_json = models.JSONField(
        default=dict,
        blank=True,
        help_text="de-identified header as DICOM JSON (no pixel data), for WADO-RS metadata",
    )

    class Meta:
        ordering = ["first_frame"]

    def __str__(self) -> str:
        return self.sop_instance_uid
