"""Simulated clients: how a load generator on one address stands for many shoppers.

The store throttles and caps holds per client (`toolkit/clients.py`). A run's users
all send from 127.0.0.1, so each simulated visit names a client id of its own in
`X-Peakstore-Load-Client`, signed with the run's key (HMAC-SHA256): the stack runner
makes a key per run and gives it to the store and the generator
(`PEAKSTORE_LOADGEN_KEY`); production settings never accept the header. This package
imports no store code, so the signature is computed here too.
"""

import hashlib
import hmac
import os

LOADGEN_KEY_ENV = "PEAKSTORE_LOADGEN_KEY"
LOADGEN_HEADER = "X-Peakstore-Load-Client"


def client_headers(client_id: str, key: str | None = None) -> dict[str, str]:
    """The header naming `client_id`; none without a key (`key` or the environment's)."""
    key = os.environ.get(LOADGEN_KEY_ENV, "") if key is None else key
    if not key:
        return {}
    signature = hmac.new(key.encode(), client_id.encode(), hashlib.sha256).hexdigest()
    return {LOADGEN_HEADER: f"{client_id}.{signature}"}
