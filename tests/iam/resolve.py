"""The transformed template as one deployed stack would hold it: parameters given, conditions
decided, resources left out where their condition is false, and every `Ref`, `Fn::GetAtt`,
`Fn::Sub`, `Fn::If`, `Fn::Select`, `Fn::Split` and `Fn::Join` resolved to the concrete names and
ARNs of a test account, region and stack name. Physical names CloudFormation would generate are
`<stack>-<LogicalId>`: stable, so a grant and the call it allows name the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "fanmail-iam"

NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SES::ConfigurationSet": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::Lambda::Alias": "Name",
}


class Unresolvable(ValueError):
    """A construct this resolver does not know: better refused than guessed."""


@dataclass
class ResolvedStack:
    """`resources[logical id]` is the resource with its Properties resolved (None where its
    condition is false)."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    stack_name: str = STACK
    account: str = ACCOUNT
    region: str = REGION
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        values.update(self.parameters)
        self.parameters = values
        for name in self.template.get("Conditions", {}):
            self._condition(name)
        for logical, resource in self.template["Resources"].items():
            if self.conditions.get(resource.get("Condition", ""), True):
                self.resources[logical] = {
                    "Type": resource["Type"],
                    "Properties": self.resolve(resource.get("Properties", {})),
                }

    # -- names ------------------------------------------------------------------------------
    def physical_name(self, logical: str) -> str:
        resource = self.template["Resources"][logical]
        key = NAME_PROPERTIES.get(resource["Type"])
        given = resource.get("Properties", {}).get(key) if key else None
        if given is not None:
            return str(self.resolve(given))
        name = f"{self.stack_name}-{logical}"
        return name.lower() if resource["Type"] == "AWS::S3::Bucket" else name

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": self.arn("cloudformation", f"stack/{self.stack_name}/1"),
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self._type(name)
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
            return self.get_att(name, "Arn")
        physical = self.physical_name(name)
        by_type = {
            "AWS::SQS::Queue": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}",
            "AWS::SecretsManager::Secret": self.arn("secretsmanager", f"secret:{physical}-AbCdEf"),
            "AWS::SNS::Topic": self.arn("sns", physical),
            "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{self.account}:policy/{physical}",
            "AWS::Lambda::LayerVersion": self.arn("lambda", f"layer:{physical}:1"),
        }
        return by_type.get(kind, physical)

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self._type(logical)
        if kind == "AWS::Lambda::Alias" or kind == "AWS::Lambda::Version":
            properties = self.template["Resources"][logical]["Properties"]
            function = self.resolve(properties["FunctionName"])
            qualifier = self.resolve(properties.get("Name", "1"))
            return self.arn("lambda", f"function:{function}:{qualifier}")
        physical = self.physical_name(logical)
        if attribute in ("QueueName", "Name"):
            return physical
        if attribute != "Arn":
            raise Unresolvable(f"Fn::GetAtt {logical}.{attribute}")
        arns = {
            "AWS::DynamoDB::Table": self.arn("dynamodb", f"table/{physical}"),
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::SQS::Queue": self.arn("sqs", physical),
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{physical}",
            "AWS::Lambda::Function": self.arn("lambda", f"function:{physical}"),
            "AWS::Logs::LogGroup": self.arn("logs", f"log-group:{physical}:*"),
            "AWS::Events::EventBus": self.arn("events", f"event-bus/{physical}"),
            "AWS::Events::Rule": self.arn("events", f"rule/{physical}"),
            "AWS::Scheduler::ScheduleGroup": self.arn("scheduler", f"schedule-group/{physical}"),
            "AWS::WAFv2::WebACL": self.arn("wafv2", f"regional/webacl/{physical}/1"),
            "AWS::KinesisFirehose::DeliveryStream": self.arn(
                "firehose", f"deliverystream/{physical}"
            ),
        }
        if kind not in arns:
            raise Unresolvable(f"Fn::GetAtt {logical}.Arn of a {kind}")
        return arns[kind]

    def _type(self, logical: str) -> str:
        resource = self.template["Resources"].get(logical)
        if resource is None:
            raise Unresolvable(f"Ref to {logical!r}, which is neither a parameter nor a resource")
        if not self.conditions.get(resource.get("Condition", ""), True):
            raise Unresolvable(f"{logical} does not exist in this stack (its condition is false)")
        kind: str = resource["Type"]
        return kind

    # -- intrinsics -------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, value)] = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, value)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _intrinsic(self, key: str, value: Any) -> Any:
        if key == "Ref":
            return NO_VALUE if value == "AWS::NoValue" else self.ref(value)
        if key == "Fn::GetAtt":
            logical, attribute = value if isinstance(value, list) else value.split(".", 1)
            return self.get_att(logical, attribute)
        if key == "Fn::If":
            condition, yes, no = value
            return self.resolve(yes if self._condition(condition) else no)
        if key == "Fn::Sub":
            return self._sub(value)
        if key == "Fn::Join":
            separator, items = value
            return separator.join(str(v) for v in self.resolve(items))
        if key == "Fn::Select":
            index, items = self.resolve(value)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(value)
            return str(text).split(separator)
        if key == "Condition":
            return self._condition(value)
        raise Unresolvable(f"{key} is not supported here")

    def _sub(self, value: Any) -> str:
        text, names = (value, {}) if isinstance(value, str) else value
        variables = {k: self.resolve(v) for k, v in names.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self._decide(self.template["Conditions"][name])
        return self.conditions[name]

    def _decide(self, node: Mapping[str, Any]) -> bool:
        [(key, value)] = node.items()
        if key == "Fn::Equals":
            left, right = (str(self.resolve(v)) for v in value)
            return left == right
        if key == "Fn::Not":
            return not self._decide(value[0])
        if key == "Fn::And":
            return all(self._decide(v) for v in value)
        if key == "Fn::Or":
            return any(self._decide(v) for v in value)
        if key == "Condition":
            return self._condition(value)
        raise Unresolvable(f"condition function {key}")


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
