"""The DynamoDB adapters, one module per table, and the tables as template.yaml declares them
(key schemas, indexes, TTL attributes: a test keeps them in step). Import an adapter from its
module: this package imports none of them, so a function loads only the tables it uses."""

from __future__ import annotations

from typing import Literal

# Key schemas, mirrored by template.yaml (a test checks that they agree).
TABLE_KEYS: dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]] = {
    "subscribers": [("list_id", "HASH"), ("email", "RANGE")],
    "campaigns": [("campaign_id", "HASH")],
    "ledger": [("campaign_id", "HASH"), ("email", "RANGE")],
    "lists": [("list_id", "HASH")],
    "imports": [("import_id", "HASH"), ("item", "RANGE")],
    "signups": [("list_id", "HASH"), ("email", "RANGE")],
    "erasures": [("id", "HASH")],
    "templates": [("name", "HASH"), ("version", "RANGE")],
    "segments": [("list_id", "HASH"), ("item", "RANGE")],
    "idempotency": [("id", "HASH")],
}

# Tables whose items expire (DynamoDB TTL), by the attribute holding the time.
TABLE_TTL = {
    "ledger": "expires_at",
    "imports": "expires",
    "signups": "expires",
    "idempotency": "expiration",
}

BY_EMAIL = "by_email"
"""The index by address of the tables that hold a few items per address: lists of an address
(suppression, preferences), and a person's data (export and erasure). The ledger has none (a
write per email sent): a person's records are read by key over the campaigns. Sign-ups and
rejected rows index an `address` attribute only their items have (the limits' items and
import jobs stay out of the index)."""

RECEIPTS = "receipts"
"""The erasure jobs (their receipts), newest first: `kind` is set on job items only."""

# Global secondary indexes (keys only), mirrored by template.yaml too.
TABLE_INDEXES: dict[str, dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]]] = {
    "subscribers": {BY_EMAIL: [("email", "HASH"), ("list_id", "RANGE")]},
    "signups": {BY_EMAIL: [("address", "HASH"), ("list_id", "RANGE")]},
    "imports": {BY_EMAIL: [("address", "HASH"), ("import_id", "RANGE")]},
    "erasures": {RECEIPTS: [("kind", "HASH"), ("id", "RANGE")]},
}
