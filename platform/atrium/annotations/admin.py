from django.contrib import admin

from atrium.annotations.models import Annotation, AnnotationVersion


class VersionInline(admin.TabularInline):
    model = AnnotationVersion
    extra = 0
    can_delete = False
    readonly_fields = ("number", "parent", "author", "data", "deleted", "created_at")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "case", "author", "kind", "version", "deleted", "updated_at")
    list_filter = ("kind", "deleted")
    inlines = [VersionInline]
    readonly_fields = ("version", "data", "deleted")
