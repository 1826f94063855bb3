"""The operator HMI: Panel displays on the tag server's event loop (see docs/hmi.md).

``service.py`` (the ``hmi`` component) serves ``app.py`` (one browser session:
login, navigation, banner, refresh tick); ``live.py`` holds each session's
batched subscriptions; ``pages.py``/``equipment.py`` the display hierarchy
generated from the site's equipment classes; ``alarms_view.py``,
``faceplate.py`` and ``trends.py`` the alarm summary, commands and trends.
"""
