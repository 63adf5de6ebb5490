from django.contrib import admin

from atrium.imaging.models import ImagingStudy, Instance, Patient, Series


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "study", "sex", "created_at")


@admin.register(ImagingStudy)
class ImagingStudyAdmin(admin.ModelAdmin):
    list_display = ("study_instance_uid", "patient", "site", "study_date")


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("series_instance_uid", "modality", "layout", "shape", "manufacturer", "source")
    list_filter = ("modality", "layout", "source", "manufacturer")


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("sop_instance_uid", "series", "first_frame", "slice_index", "phase_index")
