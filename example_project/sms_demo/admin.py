from django.contrib import admin

from .models import OptOut


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["mobile", "created_at"]
    search_fields = ["=mobile"]
    raw_id_fields = ["reply"]
