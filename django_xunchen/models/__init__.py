"""Every table of the app, a module per concern; every model is importable from here.

Moving a model between these modules creates no migration: a model's table and its
migration state depend on its app and name, not on the module it is defined in.
"""

from .analytics import DeliveryFigure, FailureFigure
from .campaigns import Campaign, CampaignFileChunk, CampaignRecipient, params_for_storage
from .consent import Consent
from .fields import account_field
from .health import AccountBalance, HealthAlert
from .httpapi import ApiKey, ApiRateWindow, ApiRequest, IdempotencyRecord
from .messages import Message, MessageQuerySet, gateway_day_start
from .people import Erasure
from .policy import BlockedWord, Suppression
from .polling import InboundMessage, PolledRecord, PollJournalEntry, PollLock, PollState, Report
from .rollup import DailyFigure, RollupDay
from .templates import Template
from .verification import ThrottleBucket, ThrottleEvent, VerificationCode
from .webhooks import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "AccountBalance",
    "ApiKey",
    "ApiRateWindow",
    "ApiRequest",
    "BlockedWord",
    "Campaign",
    "CampaignFileChunk",
    "CampaignRecipient",
    "Consent",
    "DailyFigure",
    "DeliveryFigure",
    "Erasure",
    "EventType",
    "FailureFigure",
    "HealthAlert",
    "IdempotencyRecord",
    "InboundMessage",
    "Message",
    "MessageQuerySet",
    "PollJournalEntry",
    "PollLock",
    "PollState",
    "PolledRecord",
    "Report",
    "RollupDay",
    "Suppression",
    "Template",
    "ThrottleBucket",
    "ThrottleEvent",
    "VerificationCode",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "account_field",
    "gateway_day_start",
    "params_for_storage",
]
