from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from atrium.accounts.models import AuditEntry, StudyMembership, User


@admin.register(User)
class AtriumUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Atrium", {"fields": ("role",)}))  # type: ignore[misc]


@admin.register(StudyMembership)
class StudyMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "study", "role", "created_at")
    list_filter = ("role", "study")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "study")
    list_filter = ("action", "object_type")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
