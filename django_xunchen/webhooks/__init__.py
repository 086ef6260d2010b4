"""Signed webhooks: events pushed to the endpoints staff register."""
