"""Tenants' Google service-account identities and the ID tokens they present to AWS STS.

- ``assign_identity`` gives a new tenant a key: from the pool (``google_key_pool_dir``) or generated
  here (``EMBEDDED``); ``set_google_key`` replaces it with an operator's real Google key (``CONFIGURED``).
- ``GoogleIdentity`` obtains ID tokens with google-auth's ``IDTokenCredentials``; embedded keys are
  served by a loopback token endpoint (``token_endpoint``) it starts on first use.
"""

from control_plane.identity.errors import IdTokenUnavailable, PoolExhausted
from control_plane.identity.keys import KeySource, ServiceAccountKey, generate_key, parse_key
from control_plane.identity.service import (
    GoogleIdentity,
    ServiceAccount,
    assign_identity,
    get_service_account,
    set_google_key,
)

__all__ = [
    "GoogleIdentity",
    "IdTokenUnavailable",
    "KeySource",
    "PoolExhausted",
    "ServiceAccount",
    "ServiceAccountKey",
    "assign_identity",
    "generate_key",
    "get_service_account",
    "parse_key",
    "set_google_key",
]
