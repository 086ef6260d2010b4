from django.db import models


class OptOut(models.Model):
    """A number that replied 退订 (unsubscribe): the host app sends it no more marketing."""

    mobile = models.CharField(max_length=11, unique=True)
    reply = models.ForeignKey(
        "django_xunchen.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "opt-out"

    def __str__(self) -> str:
        return self.mobile
