from django.contrib import admin

from atrium.studies.models import Assignment, Case, Study


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "task_kind", "blind", "reads_per_case", "al_strategy")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("title", "study", "status", "split", "vendor", "site")
    list_filter = ("study", "status", "split", "vendor")
    search_fields = ("title",)


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("case", "user", "read_number", "status", "assigned_at", "submitted_at")
    list_filter = ("status",)
