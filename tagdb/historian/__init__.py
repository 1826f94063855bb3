"""The historian: store-and-forward from the live tag database to time-series sinks.

Tag changes are appended to a durable local buffer (:mod:`.buffer`); one
forwarder per sink (:mod:`.forwarder`) delivers them and acknowledges them back
to the buffer only when the sink has stored them. Queries go through one API
(:mod:`.query`) whatever the sink. See ``docs/historian.md``.
"""
