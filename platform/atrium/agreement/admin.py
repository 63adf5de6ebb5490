from django.contrib import admin

from atrium.agreement.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("study", "computed_at", "stale")
