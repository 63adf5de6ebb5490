from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from atrium.accounts.models import ApiToken, AuditEntry, StudyMembership, User


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see every user's tokens and revoke them (set revoked_at); keys are never shown or stored."""

    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at")

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are created by their user through the API, which shows the key once
