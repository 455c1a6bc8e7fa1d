"""Notifications: outbox rows become messages on channels, as rules say.

* ``events``      - an outbox row as a ``NotifyEvent``: kind, severity, object, documented fields
* ``rules``       - a rule (parsed once for TOML, CLI and API) and its matching
* ``messages``    - titles and bodies, templated per rule in a sandbox
* ``dispatcher``  - outbox -> incidents -> deliveries; min_duration, repeat, escalation,
  acknowledgements and downtimes, on an injected clock
* ``channels``    - Apprise URLs and the signed webhook; secrets masked
* ``worker``      - claims deliveries, sends them with retries and backoff, records attempts
* ``manage``      - adding, listing and removing channels and rules (CLI and API share it)
"""
