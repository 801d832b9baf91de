"""#19 item 1 through the IAM test itself: GET /lists on the stand-in scans the lists table; the
shipped template allows it, and the same calls against the template without that grant are
denied, naming the function, the action and the table."""

from __future__ import annotations

from pathlib import Path

from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.runtime import LocalRuntime
from tests.deploy.test_stack_audit import validate_module
from tests.iam.check import Judge
from tests.iam.recorder import merge, recording

ROOT = Path(__file__).resolve().parents[2]
GRANT = """            - Sid: TheListOfLists
              Effect: Allow
              Action: dynamodb:Scan
              Resource: !GetAtt ListsTable.Arn
"""


def test_the_list_of_lists_is_allowed_and_denied_without_its_grant() -> None:
    settings = Settings(templates_dir=default_templates_dir())
    with (
        LocalRuntime(settings, sender_identity=None, max_send_rate=10.0) as runtime,
        recording() as recorder,
    ):
        runtime.app.lists.create(CreateList("weekly"))  # the operator's: no function's call
        answer = runtime.invoker.invoke("api", api_event("GET", "/lists"))
        assert answer["statusCode"] == 200 and '"weekly"' in answer["body"]
    calls, environments = merge([recorder.export()])
    assert {(c.function, c.operation) for c in calls} >= {("api", "Scan")}
    shipped = Judge().judge(calls, environments)
    assert shipped.denied == [] and shipped.problems == []
    source = (ROOT / "template.yaml").read_text()
    assert GRANT in source
    weakened = Judge(validate_module().transform_source(source.replace(GRANT, "")))
    assert weakened.judge(calls, environments).denied == [
        "ApiFunction may not dynamodb:Scan on "
        "arn:aws:dynamodb:us-east-1:123456789012:table/fanmail-iam-ListsTable "
        "-- its handler called dynamodb Scan"
    ]
