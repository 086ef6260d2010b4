"""A campaign's text and the checks on it before anything is staged."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..exceptions import XunchenValidationError
from ..models import Campaign
from ..sending import admission


class CampaignError(XunchenValidationError):
    """The campaign cannot be staged, sent or changed as asked; the message says why."""


def text_of(campaign: Campaign) -> str:
    """The body every row's text is made from: the template's, or the campaign's own."""
    if campaign.template_id:
        return campaign.template.body
    return campaign.content


def check_campaign(campaign: Campaign) -> None:
    """What must hold before any row is read."""
    if campaign.template_id:
        template = campaign.template
        if not template.is_active:
            raise CampaignError(
                _("The template %(id)s is not active.") % {"id": template.template_id}
            )
        if template.account != campaign.account:
            raise CampaignError(
                _("The template belongs to account %(account)s.") % {"account": template.account}
            )
        admission.text(template.body, campaign.kind, campaign.account, template)
    elif not campaign.content.strip():
        raise CampaignError(_("Enter the text, or choose a template."))
