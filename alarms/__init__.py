"""spms alarms: an ISA-18.2 alarm system for the tag server.

Modules:

* ``schema`` / ``validate``: the ``alarms:`` config section, per-tag and template rules, cross checks
* ``rules`` / ``limits`` / ``evaluators`` / ``expr``: compiled rules, the vectorized limit table,
  per-kind evaluation, the safe expression evaluator
* ``model`` / ``engine``: the per-alarm state machine and the engine driving it
* ``system``: rules on run-time ``_system/...`` tags (site globs, components' built-in defaults)
* ``events``: :class:`~alarms.events.AlarmTransition`, published on the event bus
* ``journal`` / ``tables``: durable journal and current states (business database)
* ``notify``: channels, durable outbox, grouping, rosters, pipelines (public, reused by business)
* ``kpi``: EEMUA 191 / ISA-18.2 KPIs; ``api``: REST resource; ``service``: the ``alarms`` component;
  ``cli``: ``spms alarms``

See docs/alarms.md.
"""
