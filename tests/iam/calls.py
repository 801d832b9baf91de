"""From a recorded AWS call to what IAM evaluates: its action(s) and resource ARN(s) in the
deployed stack, as AWS authorises them.

A call is recorded with the names the local run used (its tables, bucket, functions) and the
function's local environment; the deployed environment of the same function in the resolved
template translates them, variable by variable (the local subscribers table is whatever
FANMAIL_SUBSCRIBERS_TABLE says locally; deployed it is what the template sets it to). How AWS
authorises each call:

- DynamoDB: one action per call on the table, a Query or Scan of an index on the index's ARN;
  BatchGetItem and BatchWriteItem once per table they name; TransactWriteItems and
  TransactGetItems as the actions of their items (PutItem, UpdateItem, DeleteItem,
  ConditionCheckItem, GetItem), each on its table.
- S3: objects by their ARN (HeadObject is s3:GetObject); a GetObject or HeadObject of a file
  that may be missing also needs s3:ListBucket, or S3 answers 403 instead of the 404 the
  adapter expects; a presigned URL is authorised as its signer's action when it is used.
- SES: SendEmail on the identity SES verified for the From address -- the address itself, or
  only its domain: both must be allowed -- and on the configuration set, with ses:FromAddress.
- Scheduler: the schedule's ARN in its group; creating or updating one passes its role
  (iam:PassRole, iam:PassedToService scheduler.amazonaws.com).
- Lambda: Invoke is lambda:InvokeFunction on the function's ARN with its qualifier.
- SQS, for Lambda: its poller uses the queue of the function's event source mapping, and an
  asynchronous event whose retries ran out goes to the function's on-failure destination.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from fanmail_local.adapters.erasures import GENERATED_KEY_ID
from tests.iam.policy import Request
from tests.iam.resolve import ResolvedStack

Names = tuple[tuple[str, Any], ...]
"""(parameter, value) pairs of what a call acts on, sorted: strings, or tuples of them."""


class Call(NamedTuple):
    """One distinct call: by which function (its local environment's id), what, on what."""

    function: str
    environment: str
    service: str
    operation: str
    names: Names
    presigned: bool = False


class Untranslatable(ValueError):
    """A call names something the function's environment does not configure."""


TABLES = (
    "SUBSCRIBERS",
    "CAMPAIGNS",
    "LEDGER",
    "LISTS",
    "IMPORTS",
    "SIGNUPS",
    "ERASURES",
    "TEMPLATES",
    "SEGMENTS",
    "IDEMPOTENCY",
)
FUNCTIONS = ("SENDER", "TRIGGER", "PACER", "IMPORTER", "RETENTION", "ERASER", "COUNTER")
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


NAME_KEYS = (
    "TableName",
    "IndexName",
    "Bucket",
    "Key",
    "ConfigurationSetName",
    "Name",
    "GroupName",
    "FunctionName",
    "Qualifier",
    "SecretId",
    "QueueUrl",
)


def names_of(service: str, operation: str, params: Mapping[str, Any]) -> Names:
    """The parameters that name what a call acts on: cheap, and the same for every call on the
    same things (a campaign's thousands of ledger writes record as one; a DynamoDB item's Key is
    no name, an S3 object's is)."""
    names: list[tuple[str, Any]] = [
        (key, value) for key in NAME_KEYS if isinstance(value := params.get(key), str)
    ]
    if "RequestItems" in params:
        names.append(("RequestItems", tuple(sorted(params["RequestItems"]))))
    if "TransactItems" in params:
        items = {
            (kind, str(item[kind]["TableName"]))
            for item in params["TransactItems"]
            for kind in item
        }
        names.append(("TransactItems", tuple(sorted(items))))
    sender = params.get("FromEmailAddress") or params.get("Source")
    if sender:
        names.append(("From", str(sender).rpartition("<")[2].rstrip(">").strip()))
    role = (params.get("Target") or {}).get("RoleArn")
    if role:
        names.append(("RoleArn", str(role)))
    return tuple(sorted(names))


def frozen(value: Any) -> Any:
    """Names as JSON gave them back (lists), hashable again."""
    return tuple(frozen(v) for v in value) if isinstance(value, list) else value


@dataclass
class Deployment:
    """One function of the resolved stack, and the local environment its calls were made in."""

    stack: ResolvedStack
    function: str  # the template's logical id, "TriggerFunction"
    local: Mapping[str, str]

    @property
    def deployed(self) -> Mapping[str, str]:
        properties = self.stack.resources[self.function]["Properties"]
        variables: Mapping[str, str] = properties.get("Environment", {}).get("Variables", {})
        return variables

    def translate(self, local_name: str | None, variables: tuple[str, ...]) -> str:
        """The deployed value of the variable whose local value `local_name` is (the first of
        `variables` when the call named nothing: the adapter stood in for the configured one)."""
        for variable in variables:
            if local_name is None or self.local.get(variable) == local_name:
                value = self.deployed.get(variable)
                if value:
                    return value
        raise Untranslatable(
            f"{local_name!r} is none of {', '.join(variables)} in the function's environment"
        )

    def table_arn(self, name: str, index: str | None = None) -> str:
        table = self.translate(name, tuple(f"FANMAIL_{t}_TABLE" for t in TABLES))
        arn = self.stack.arn("dynamodb", f"table/{table}")
        return f"{arn}/index/{index}" if index else arn

    def function_arn(self, name: str, qualifier: str | None = None, *, alias: bool = True) -> str:
        """A logical name ("sender", as the local invoker is called) is invoked as the deployed
        adapter invokes it: its configured name, through the configured alias."""
        function, _, named_qualifier = name.partition(":")
        if function.upper() in FUNCTIONS:
            deployed = self.deployed[f"FANMAIL_{function.upper()}_FUNCTION"]
            qualifier = qualifier or self.deployed.get("FANMAIL_FUNCTION_QUALIFIER")
        else:
            variables = tuple(f"FANMAIL_{f}_FUNCTION" for f in FUNCTIONS)
            deployed = self.translate(function, variables)
            qualifier = qualifier or named_qualifier
        arn = self.stack.arn("lambda", f"function:{deployed}")
        return f"{arn}:{qualifier}" if qualifier and alias else arn

    def failure_destination(self) -> str | None:
        for resource in self.stack.resources.values():
            properties = resource["Properties"]
            if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and properties[
                "FunctionName"
            ] == self.stack.physical_name(self.function):
                destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
                return str(destination)
        return None

    def event_source_queue(self, local_name: str) -> str:
        """The queue of the function's event source mapping that local mode's queue
        `local_name` stands in for (local queues are named after the template's, with a prefix
        of the stack's or of a test's own: `it-FeedbackQueue` stands in for
        `<stack>-FeedbackQueue`)."""
        alias = self.stack.get_att(f"{self.function}Aliaslive", "Arn")
        for resource in self.stack.resources.values():
            properties = resource["Properties"]
            queue = str(properties.get("EventSourceArn", "")).rpartition(":")[2]
            template_name = queue.removeprefix(f"{self.stack.stack_name}-")
            if (
                resource["Type"] == "AWS::Lambda::EventSourceMapping"
                and properties["FunctionName"] in (alias, self.stack.physical_name(self.function))
                and (local_name == template_name or local_name.endswith(f"-{template_name}"))
            ):
                return str(properties["EventSourceArn"])
        raise Untranslatable(f"{self.function} has no event source mapping of {local_name}")


Mapper = Callable[[Deployment, dict[str, Any], str], Iterator[Request]]
MAPPERS: dict[tuple[str, str], Mapper] = {}


def maps(*keys: tuple[str, str]) -> Callable[[Mapper], Mapper]:
    def register(mapper: Mapper) -> Mapper:
        for key in keys:
            MAPPERS[key] = mapper
        return mapper

    return register


def requests_for(call: Call, deployment: Deployment) -> list[Request]:
    """What IAM evaluates for `call`; Untranslatable or KeyError (no mapping) otherwise."""
    mapper = MAPPERS.get((call.service, call.operation))
    if mapper is None:
        raise KeyError(f"no IAM mapping for {call.service}:{call.operation} (tests/iam/calls.py)")
    return list(mapper(deployment, dict(call.names), call.operation))


DYNAMODB_ONE_TABLE = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "DescribeTimeToLive",
)


@maps(*(("dynamodb", op) for op in DYNAMODB_ONE_TABLE))
def _dynamodb(d: Deployment, names: dict[str, Any], operation: str) -> Iterator[Request]:
    yield Request(f"dynamodb:{operation}", d.table_arn(names["TableName"], names.get("IndexName")))


@maps(("dynamodb", "BatchGetItem"), ("dynamodb", "BatchWriteItem"))
def _dynamodb_batch(d: Deployment, names: dict[str, Any], operation: str) -> Iterator[Request]:
    for table in names["RequestItems"]:
        yield Request(f"dynamodb:{operation}", d.table_arn(table))


@maps(("dynamodb", "TransactWriteItems"), ("dynamodb", "TransactGetItems"))
def _dynamodb_transaction(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    for kind, table in names["TransactItems"]:
        yield Request(f"dynamodb:{TRANSACT_ACTIONS[kind]}", d.table_arn(table))


BUCKETS = ("FANMAIL_IMPORTS_BUCKET", "FANMAIL_SES_EVENTS_BUCKET")


def _object_arn(d: Deployment, names: dict[str, Any]) -> tuple[str, str]:
    bucket = d.translate(names["Bucket"], BUCKETS)
    return f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{names['Key']}"


@maps(("s3", "GetObject"), ("s3", "HeadObject"))
def _s3_read(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    bucket, key = _object_arn(d, names)
    yield Request("s3:GetObject", key)
    if d.local.get("FANMAIL_SES_EVENTS_BUCKET") != names["Bucket"]:
        # a missing list file: 404, not 403 (SES's event objects are read when S3 has just
        # announced them; a missing one fails its message, 403 or 404 alike)
        yield Request("s3:ListBucket", bucket)


@maps(("s3", "PutObject"), ("s3", "DeleteObject"))
def _s3_write(d: Deployment, names: dict[str, Any], operation: str) -> Iterator[Request]:
    yield Request(f"s3:{operation}", _object_arn(d, names)[1])


@maps(("sesv2", "SendEmail"), ("ses", "SendEmail"), ("ses", "SendRawEmail"))
def _ses_send(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    address = names["From"]
    context = (("ses:FromAddress", address),)
    for identity in (address, address.rpartition("@")[2]):  # whichever SES verified
        yield Request("ses:SendEmail", d.stack.arn("ses", f"identity/{identity}"), context)
    if "ConfigurationSetName" in names:
        name = d.translate(
            names["ConfigurationSetName"],
            ("FANMAIL_CONFIGURATION_SET", "FANMAIL_UNTRACKED_CONFIGURATION_SET"),
        )
        yield Request("ses:SendEmail", d.stack.arn("ses", f"configuration-set/{name}"), context)


@maps(
    ("sesv2", "GetAccount"),
    ("ses", "GetSendQuota"),
    ("sesv2", "ListEmailIdentities"),
    ("lambda", "GetAccountSettings"),
    ("scheduler", "ListSchedules"),
)
def _account_wide(_: Deployment, __: dict[str, Any], operation: str) -> Iterator[Request]:
    services = {"GetAccountSettings": "lambda", "ListSchedules": "scheduler"}
    yield Request(f"{services.get(operation, 'ses')}:{operation}", "*")


@maps(
    *(
        ("scheduler", op)
        for op in ("CreateSchedule", "UpdateSchedule", "GetSchedule", "DeleteSchedule")
    )
)
def _schedule(d: Deployment, names: dict[str, Any], operation: str) -> Iterator[Request]:
    group = d.translate(names.get("GroupName"), ("FANMAIL_SCHEDULE_GROUP",))
    yield Request(
        f"scheduler:{operation}", d.stack.arn("scheduler", f"schedule/{group}/{names['Name']}")
    )
    if operation in ("CreateSchedule", "UpdateSchedule"):
        role = d.translate(names.get("RoleArn"), ("FANMAIL_SCHEDULER_ROLE_ARN",))
        service = (("iam:PassedToService", "scheduler.amazonaws.com"),)
        yield Request("iam:PassRole", role, service)


@maps(("lambda", "Invoke"))
def _invoke(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    yield Request(
        "lambda:InvokeFunction", d.function_arn(names["FunctionName"], names.get("Qualifier"))
    )


@maps(("lambda", "GetFunctionConcurrency"))
def _function_concurrency(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    yield Request(
        "lambda:GetFunctionConcurrency", d.function_arn(names["FunctionName"], alias=False)
    )


@maps(("secretsmanager", "GetSecretValue"))
def _secret(d: Deployment, names: dict[str, Any], _: str) -> Iterator[Request]:
    if names.get("SecretId") == GENERATED_KEY_ID:  # the erasure key, generated locally
        arn = d.translate(None, ("FANMAIL_ERASURE_SECRET_NAME",))
    else:
        secrets = ("FANMAIL_UNSUBSCRIBE_SECRET_NAME", "FANMAIL_ERASURE_SECRET_NAME")
        arn = d.translate(names.get("SecretId"), secrets)
    yield Request("secretsmanager:GetSecretValue", arn)


@maps(
    ("sqs", "ReceiveMessage"),
    ("sqs", "DeleteMessageBatch"),
    ("sqs", "DeleteMessage"),
    ("sqs", "GetQueueAttributes"),
)
def _poll(d: Deployment, names: dict[str, Any], operation: str) -> Iterator[Request]:
    action = "sqs:DeleteMessage" if operation == "DeleteMessageBatch" else f"sqs:{operation}"
    yield Request(action, d.event_source_queue(str(names["QueueUrl"]).rpartition(":")[2]))


@maps(("sqs", "SendMessage"))
def _failure_destination(d: Deployment, _: dict[str, Any], __: str) -> Iterator[Request]:
    destination = d.failure_destination()
    if destination:  # without one, Lambda drops the event
        yield Request("sqs:SendMessage", destination)
