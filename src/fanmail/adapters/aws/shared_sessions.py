"""boto3 sessions that share one botocore data loader, for processes that build many sessions.

botocore reads a service's model and the endpoint rules (JSON files of up to a few MB) once per
session: a DynamoDB client on a fresh session takes about 90 ms, 15 ms once the models are
loaded. A Lambda function builds one session per container and has no use for this; local mode
and the test suite build one per runtime and per test. What the loader holds is read only (no
handler of `service-data-loaded` edits it), so every session of the process may share it.
"""

from __future__ import annotations

import threading

import boto3
import botocore.loaders
import botocore.session

_LOADER = botocore.loaders.create_loader()
_LOCK = threading.Lock()


def session(region_name: str | None = None) -> boto3.Session:
    """A boto3 session from the environment, as `clients.session`, on the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    with _LOCK:
        made = boto3.Session(botocore_session=core, region_name=region_name)
        # boto3 appends its own data directory to the loader's search paths for each session.
        _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))
    return made
