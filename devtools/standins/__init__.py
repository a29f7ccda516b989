"""Loopback stand-ins for the billing APIs that cannot run here (Anthropic, OpenAI, Cursor, Elastic Cloud).

Each speaks its API's exact wire format (paths, auth headers, pagination, amounts as strings) over HTTP on
127.0.0.1, serving a dataset the test or the demo gives it; the production client is what talks to it,
pointed there by its base-URL setting. ``LoopbackApi`` is the server they share: routing, authentication,
and the faults an API really produces (429 with ``Retry-After``, 5xx, a revoked key answering 401).
"""
