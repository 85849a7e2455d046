"""The log key: signs every organisation's key log head (docs/keylog.md, "Heads").

Made on first start and kept in `meta` like the VAPID key, so backups hold it too; clients pin
its public half the first time they see it, so a new key makes every client refuse the logs.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from server.db import Store, meta_get, meta_set
from server.envelope import b64u_decode, b64u_encode, load_private_key_raw, private_key_raw

META_KEY = "log_private_key"


def log_private_key(db: Store) -> ec.EllipticCurvePrivateKey:
    """The log key kept in the database, made on first start."""
    raw = meta_get(db, META_KEY)
    if not raw:
        key = ec.generate_private_key(ec.SECP256R1())
        raw = b64u_encode(private_key_raw(key))
        meta_set(db, META_KEY, raw)
    return load_private_key_raw(b64u_decode(raw))
