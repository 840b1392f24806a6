"""Admin pieces shared by every app's admin."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Financial records are written by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
