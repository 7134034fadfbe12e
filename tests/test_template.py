"""template.yaml (AWS SAM): cfn-lint finds nothing, and the properties we rely on hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Counter, Histogram

from aircraftml import metrics

cfnlint_api = pytest.importorskip("cfnlint.api", reason="needs cfn-lint (the dev extra)")
cfn_yaml = pytest.importorskip("cfnlint.decode.cfn_yaml")

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


def _resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][name]["Properties"]
    return properties


def _find_in_map(template: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        mapping, top, key = value["Fn::FindInMap"]
        return template["Mappings"][mapping][top][key]
    return value


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = _resource(template, role)["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_cfn_lint_finds_nothing() -> None:
    matches = cfnlint_api.lint_file(TEMPLATE)
    assert [str(m) for m in matches] == []


def test_queue_visibility_is_at_least_six_handler_timeouts(template: dict[str, Any]) -> None:
    visibility_s = _find_in_map(template, _resource(template, "RequestQueue")["VisibilityTimeout"])
    timeout_s = _find_in_map(template, _resource(template, "HandlerFunction")["Timeout"])
    assert visibility_s >= 6 * timeout_s


def test_request_queue_redrives_to_the_dead_letter_queue(template: dict[str, Any]) -> None:
    policy = _resource(template, "RequestQueue")["RedrivePolicy"]
    assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert policy["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == 5


def test_handler_reports_batch_item_failures_from_a_small_batch(
    template: dict[str, Any],
) -> None:
    handler = _resource(template, "HandlerFunction")
    (event,) = handler["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert template["Parameters"]["HandlerBatchSize"]["Default"] <= 5


def test_functions_point_at_the_aws_adapters(template: dict[str, Any]) -> None:
    webhook = _resource(template, "WebhookFunction")
    handler = _resource(template, "HandlerFunction")
    assert webhook["Handler"] == "aircraftml.aws.lambdas.webhook_handler"
    assert handler["PackageType"] == "Image"
    assert handler["ImageConfig"]["Command"] == ["aircraftml.aws.lambdas.sqs_handler"]
    assert (ROOT / "src/aircraftml/aws/__init__.py").is_file()
    dockerfile = ROOT / template["Resources"]["HandlerFunction"]["Metadata"]["Dockerfile"]
    python = webhook["Runtime"].removeprefix("python")
    assert f"FROM public.ecr.aws/lambda/python:{python}" in dockerfile.read_text()


def test_no_data_plane_action_is_granted_on_every_resource(template: dict[str, Any]) -> None:
    for role in ("WebhookRole", "HandlerRole"):
        for statement in _statements(template, role):
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            assert "*" not in resources, (role, statement)
            assert not any(a.endswith(":*") or a == "*" for a in _actions(statement))


def test_the_webhook_may_only_send_to_the_queue_and_read_its_secrets(
    template: dict[str, Any],
) -> None:
    actions = {a for s in _statements(template, "WebhookRole") for a in _actions(s)}
    assert {a for a in actions if not a.startswith("ssm:Get")} == {"sqs:SendMessage"}


def test_the_handler_gets_only_what_it_uses(template: dict[str, Any]) -> None:
    by_resource: dict[str, set[str]] = {}
    for statement in _statements(template, "HandlerRole"):
        resource = statement["Resource"]
        key = resource["Fn::GetAtt"][0] if isinstance(resource, dict) else "ssm"
        by_resource.setdefault(key, set()).update(_actions(statement))
    assert by_resource["RequestQueue"] == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    assert by_resource["DeadLetterQueue"] == {"sqs:SendMessage", "sqs:GetQueueAttributes"}
    assert by_resource["StateTable"] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert all(a.startswith("ssm:GetParameter") for a in by_resource["ssm"])


def test_secrets_are_passed_by_name_never_by_value(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AIRCRAFTML_AWS_SECRETS_SSM_PATH"] == {"Ref": "XSecretsPath"}
    assert not any("SECRET" in name or "TOKEN" in name for name in variables if "SSM" not in name)
    text = TEMPLATE.read_text()
    assert "resolve:secretsmanager" not in text and "resolve:ssm-secure" not in text


def test_dead_letters_raise_an_alarm(template: dict[str, Any]) -> None:
    alarm = _resource(template, "DeadLetterAlarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_state_table_has_a_string_key_and_ttl(template: dict[str, Any]) -> None:
    from aircraftml.state.dynamodb import TTL_ATTRIBUTE

    table = _resource(template, "StateTable")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_the_poller_runs_every_minute_when_a_network_is_polled(template: dict[str, Any]) -> None:
    poller = template["Resources"]["PollerFunction"]
    assert poller["Condition"] == "PollsNetworks"
    assert poller["Properties"]["Handler"] == "aircraftml.aws.pollers.poll_handler"
    [event] = poller["Properties"]["Events"].values()
    assert event["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    actions = {a for s in _statements(template, "PollerRole") for a in _actions(s)}
    assert "sqs:SendMessage" in actions and "dynamodb:PutItem" in actions
    assert not any(a.startswith("sqs:Receive") for a in actions)


def _dashboard_metrics(template: dict[str, Any]) -> list[list[Any]]:
    body = _resource(template, "Dashboard")["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "SUBSTITUTED", body))["widgets"]
    return [m for w in widgets for m in w["properties"]["metrics"]]


def test_the_dashboard_charts_only_metrics_the_functions_write(template: dict[str, Any]) -> None:
    # Each AircraftML metric on the dashboard is one EmfFlusher writes: a counter's or a
    # histogram's series of aircraftml.metrics, with one value for each of its labels
    series = {}
    for metric in vars(metrics).values():
        if isinstance(metric, Counter | Histogram):
            name = metric.describe()[0].name.removeprefix("aircraftml_")
            labels = len(metric._labelnames)
            if isinstance(metric, Counter):
                series[f"{name}_total"] = labels
            else:
                series.update({f"{name}_sum": labels, f"{name}_count": labels})
    charted = [m[1] for m in _dashboard_metrics(template) if m[0] == "AircraftML"]
    assert len(charted) >= 10
    for name in charted:
        base, *values = name.split(".")
        assert base in series, f"{name}: no such metric"
        assert len(values) == series[base], f"{name}: {series[base]} label value(s) expected"
