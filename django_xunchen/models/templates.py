"""Message templates: the text with its placeholders, per account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..client.validation import check_params_match, normalize_params, placeholders, render_template
from ..conf import DEFAULT_ACCOUNT
from .fields import account_field


class Template(models.Model):
    """A template as registered at the vendor, with ``@1@``-style placeholders. Vendor
    template ids belong to one gateway account."""

    account = account_field()
    template_id = models.CharField(
        _("vendor template id"),
        max_length=64,
        help_text=_("The id the vendor gave the template, e.g. JSM40001-0001."),
    )
    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(
        _("body"),
        help_text=_(
            "The text exactly as registered at the vendor, with numbered placeholders: @1@, @2@, …"
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "template_id"], name="xunchen_template_once_per_account"
            )
        ]

    def __str__(self) -> str:
        details = [self.template_id] if self.template_id != self.name else []
        if self.account != DEFAULT_ACCOUNT:
            details.append(self.account)
        return f"{self.name} ({', '.join(details)})" if details else self.name

    @property
    def placeholders(self) -> list[int]:
        """The placeholder numbers in the body (``@1@`` → 1), sorted."""
        return placeholders(self.body)

    def check_params(self, params: Mapping | Sequence | None) -> tuple[tuple[int, str], ...]:
        """Normalised params, after checking they match the placeholders exactly."""
        pairs = normalize_params(params)
        check_params_match(self.body, pairs)
        return pairs

    def render(self, params: Mapping | Sequence | None) -> str:
        """The text the handset shows (before the signature the gateway adds)."""
        return render_template(self.body, self.check_params(params))

    def clean(self) -> None:
        super().clean()
        if self.template_id:
            self.template_id = self.template_id.strip()
        if self.body and not self.body.strip():
            raise ValidationError({"body": _("The body is blank.")})
