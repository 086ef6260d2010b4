"""A django-otp device whose token goes by SMS through the app: add
``"django_xunchen.integrations.otp"`` to ``INSTALLED_APPS`` after ``"django_otp"``
(docs/integrations/otp.rst)."""
