from django.contrib import admin

from atrium.learning.models import Job, ModelVersion, Prediction, QueueItem, Round


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("family", "number", "study", "promoted", "created_at")
    list_filter = ("family", "promoted")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "state", "progress", "study", "created_by", "created_at")
    list_filter = ("kind", "state")


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "case", "model_version", "kind", "created_at")


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("study", "number", "strategy", "n_labelled", "created_at")


@admin.register(QueueItem)
class QueueItemAdmin(admin.ModelAdmin):
    list_display = ("case", "user", "priority", "score", "reason", "updated_at")
    list_filter = ("study", "reason")
