"""The message admin's own pages, beside Django's list and detail: send, the balance, the
delivery dashboard, and the confirmation of a resend.

Each is a function of the :class:`~django_xunchen.admin.messages.MessageAdmin` that
shows it and the request; the admin's methods of the same names call them, so that a
site's subclass can still override one page. Only the send and resend pages write, each
through its service function (:func:`~django_xunchen.sending.send.send_sms`,
:func:`~django_xunchen.sending.send.resend`); the balance asks the gateway and writes
nothing; the dashboard's figures may first roll up days no poll has rolled up
(:func:`~django_xunchen.operations.rollup.figures`).
"""
