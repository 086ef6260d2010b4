"""The app behind other packages' SMS doors: django-allauth's phone login
(:mod:`.allauth`), django-two-factor-auth's SMS method (:mod:`.two_factor`) and a
django-otp device (:mod:`.otp`). Each imports its package, so each is imported only by a
site that installed it (``pip install django-xunchen[allauth]`` and so on); phone-number
objects need no integration (:func:`django_xunchen.client.validation.phone_number_parts`).
Every code they send goes through :func:`django_xunchen.verification.request_code`: the
throttles, the masking and the log of the app's own codes."""
