"""The example app keeps no SMS data of its own: opt-outs live in django-xunchen's
suppression list (Xunchen SMS › Suppression list in the admin)."""
