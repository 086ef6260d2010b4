"""Campaigns: stage an uploaded spreadsheet, check and estimate it, then confirm, pause,
resume or cancel its send.
"""

from .figures import Estimate, estimate, preview, problems, progress
from .lifecycle import cancel, confirm, pause, resume
from .staging import Checker, Mapping, create_draft, find_mapping, stage
from .text import CampaignError, check_campaign, text_of

__all__ = [
    "CampaignError",
    "Checker",
    "Estimate",
    "Mapping",
    "cancel",
    "check_campaign",
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
