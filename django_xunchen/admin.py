from django.contrib import admin

from .models import InboundMessage, Message, PollJournalEntry, Report, Template

admin.site.register([Template, Message, Report, InboundMessage, PollJournalEntry])
