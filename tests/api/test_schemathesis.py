"""Property-based API fuzzing: schemathesis generates requests from the OpenAPI document that
the local API publishes, sends them over HTTP, and checks every response: no 5xx, a documented
status code and content type, a body that matches its schema, and data the schema forbids
refused with a 4xx. Both positive and negative data (`--mode all`), and a stateful phase that
follows the document's links (create a list, then read it, import into it, page its rejects;
create a campaign, then send, pause, resume it...). Bounded: a fixed seed, a few examples per
operation, and the coverage phase once per body schema (schemathesis.toml). (Its pytest plugin
does not load under pytest 9, so the test runs its command line against a local API that the
test starts.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanmail.domain.model import Subscriber
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.api
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(
        templates_dir=default_templates_dir(), ses_latency_ms=5, progress_interval_s=0.2
    )
    with LocalRuntime(
        settings, sender_identity="news@fanmail.example", max_send_rate=500.0
    ) as runtime:
        app = runtime.app
        app.lists.create(CreateList("news", "News"))
        app.imports.load(
            [
                Subscriber("news", f"u{i}@example.com", attributes={"first_name": "U"})
                for i in range(5)
            ]
        )
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0)
        url = gateway.start()
        yield url
        gateway.stop()
        runtime.invoker.drain()


def test_api_conforms_to_its_openapi_document(api_url: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{api_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        "10",
        "--seed",
        "7",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--workers",
        "1",
        "--no-shrink",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
