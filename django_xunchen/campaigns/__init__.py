"""Campaigns: stage an uploaded spreadsheet, check and estimate it, then confirm, pause,
resume or cancel its send.

The names below are imported on first use (:mod:`django_xunchen._lazy`): the task
module runs the background check of :mod:`.checking`, and this package's
:mod:`.lifecycle` enqueues send tasks, so importing every module here at once would tie
the two into an import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .drafts import check_file, create_draft
    from .figures import Estimate, estimate, preview, problems, progress
    from .lifecycle import cancel, confirm, pause, resume
    from .staging import Checker, Mapping, find_mapping, stage
    from .text import CampaignError, check_campaign, text_of

_WHERE = {
    "CampaignError": "text",
    "Checker": "staging",
    "Estimate": "figures",
    "Mapping": "staging",
    "cancel": "lifecycle",
    "check_campaign": "text",
    "check_file": "drafts",
    "confirm": "lifecycle",
    "create_draft": "drafts",
    "estimate": "figures",
    "find_mapping": "staging",
    "pause": "lifecycle",
    "preview": "figures",
    "problems": "figures",
    "progress": "figures",
    "resume": "lifecycle",
    "stage": "staging",
    "text_of": "text",
}
__all__ = [
    "CampaignError",
    "Checker",
    "Estimate",
    "Mapping",
    "cancel",
    "check_campaign",
    "check_file",
    "confirm",
    "create_draft",
    "estimate",
    "find_mapping",
    "pause",
    "preview",
    "problems",
    "progress",
    "resume",
    "stage",
    "text_of",
]
__getattr__, __dir__ = exports(__name__, _WHERE)
