"""Settings, read once per cold start from `FANMAIL_*` environment variables.

Every bad value is reported with its variable name and what was expected (docs/settings.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fanmail.domain.addresses import normalise_email
from fanmail.domain.breakers import Breakers
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.errors import InvalidInput
from fanmail.domain.plan import PlanLimits
from fanmail.domain.retention import IpRetention
from fanmail.domain.tokens import SigningKeys
from fanmail.domain.tracking import ConfigurationSets
from fanmail.functions import FUNCTIONS, SENDER, TRIGGER

PREFIX = "FANMAIL_"


def default_templates_dir() -> Path:
    """The layer's /opt/templates on Lambda; the repository's templates/ everywhere else."""
    layer = Path("/opt/templates")
    if layer.is_dir():
        return layer
    return Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True, slots=True)
class Settings:
    subscribers_table: str = "fanmail-subscribers"
    campaigns_table: str = "fanmail-campaigns"
    ledger_table: str = "fanmail-ledger"
    lists_table: str = "fanmail-lists"
    templates_table: str = "fanmail-templates"
    imports_table: str = "fanmail-imports"
    signups_table: str = "fanmail-signups"
    erasures_table: str = "fanmail-erasures"
    segments_table: str = "fanmail-segments"
    idempotency_table: str = "fanmail-idempotency"
    erasure_secret_name: str | None = None
    imports_bucket: str = "fanmail-imports"
    ses_events_bucket: str = "fanmail-ses-events"
    sender_function: str = "fanmail-sender"
    trigger_function: str = "fanmail-trigger"
    pacer_function: str = "fanmail-pacer"
    importer_function: str = "fanmail-importer"
    retention_function: str = "fanmail-retain"
    eraser_function: str = "fanmail-eraser"
    counter_function: str = "fanmail-counter"
    function_qualifier: str | None = None
    sender_identity: str | None = None
    schedule_dead_letter_arn: str | None = None
    configuration_set: str | None = None
    untracked_configuration_set: str | None = None
    max_send_rate: float | None = None
    ses_latency_ms: float = 80.0
    max_threads: int = 64
    max_sender_rate: float = 200.0
    max_senders: int = 200
    branching: int = 8
    inline_threshold: int = 100
    pacer_max_rate: float = 20.0
    inline_max_rate: float = 80.0
    inline_threads: int = 64
    pacing_factor: float = 0.97
    switch_interval_ms: float = 0.5
    sender_timeout_s: float = SENDER.timeout_s
    trigger_timeout_s: float = TRIGGER.timeout_s
    time_margin_s: float = 20.0
    level_margin_s: float = 5.0
    page_size: int = 1000
    segment_exact_max: int = 5000
    frequency_cap: str = ""
    progress_interval_s: float = 2.0
    heartbeat_senders: int = 4
    lease_grace_s: float = 150.0
    ledger_ttl_days: float = 30.0
    feedback_ttl_days: float = 30.0
    import_rejects_days: float = 30.0
    consent_ip_retention: IpRetention = IpRetention.KEEP
    consent_ip_days: float = 365.0
    quota_margin: float = 0.0
    quota_recheck_s: float = 3600.0
    ses_retry_budget_s: float = 300.0
    ses_outage_after_s: float = 60.0
    ses_recheck_s: float = 60.0
    max_epochs: int = 1000
    stale_after_s: float = 120.0
    trigger_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:fanmail-trigger"
    scheduler_role_arn: str = "arn:aws:iam::000000000000:role/fanmail-scheduler"
    schedule_prefix: str = "fanmail-"
    schedule_group: str = "default"
    public_url: str = "http://127.0.0.1:8080"
    unsubscribe_mailto: str | None = None
    unsubscribe_secret_name: str | None = None
    unsubscribe_keys: str | None = None
    token_max_age_days: float = 365.0
    signup_source_limit: int = 10
    signup_list_limit: int = 500
    breaker_bounce_rate: float = 0.04
    breaker_complaint_rate: float = 0.0008
    breaker_min_sample: int = 500
    soft_bounce_limit: int = 3
    soft_bounce_days: float = 7.0
    templates_dir: Path = Path()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, _PARSERS[f.name])
        if "templates_dir" not in values:
            values["templates_dir"] = default_templates_dir()
        settings = cls(**values)
        if settings.time_margin_s >= min(settings.sender_timeout_s, settings.trigger_timeout_s):
            raise InvalidInput(
                f"{PREFIX}TIME_MARGIN_S ({settings.time_margin_s}) must be below the function "
                "timeouts"
            )
        try:
            settings.plan_limits()
            settings.breakers()
        except InvalidInput as exc:
            raise InvalidInput(f"settings: {exc} (see the {PREFIX}* variables)") from None
        return settings

    def environment(self) -> dict[str, str]:
        """The variables `from_env` reads these settings from (the unset ones left out)."""
        return {
            PREFIX + f.name.upper(): str(value)
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        }

    def default_cap(self) -> FrequencyCap | None:
        """The stack's frequency cap, for lists without their own."""
        return _frequency_cap(self.frequency_cap) if self.frequency_cap else None

    def plan_limits(self) -> PlanLimits:
        return PlanLimits(
            inline_threshold=self.inline_threshold,
            pacer_max_rate=self.pacer_max_rate,
            inline_max_rate=self.inline_max_rate,
            inline_threads=self.inline_threads,
            max_threads=self.max_threads,
            max_sender_rate=self.max_sender_rate,
            max_senders=self.max_senders,
            branching=self.branching,
            pacing_factor=self.pacing_factor,
            sender_budget_s=self.sender_timeout_s - self.time_margin_s,
            level_margin_s=self.level_margin_s,
        )

    def breakers(self) -> Breakers:
        return Breakers(
            bounce_rate=self.breaker_bounce_rate,
            complaint_rate=self.breaker_complaint_rate,
            min_sample=self.breaker_min_sample,
        )

    def configuration_sets(self) -> ConfigurationSets:
        return ConfigurationSets(self.configuration_set, self.untracked_configuration_set)

    def function_names(self) -> dict[str, str]:
        """The functions fanmail invokes, by logical name; with the qualifier (an alias) when
        set, so invokes reach the published version SnapStart restores (not $LATEST)."""
        suffix = f":{self.function_qualifier}" if self.function_qualifier else ""
        deployed = (f for f in FUNCTIONS if f.invoked)
        return {f.name: getattr(self, f"{f.name}_function") + suffix for f in deployed}

    def table_names(self) -> dict[str, str]:
        """The tables, by the name before `_table` (`subscribers`, `ledger`, ...)."""
        tables = (f.name for f in fields(self) if f.name.endswith("_table"))
        return {name.removesuffix("_table"): getattr(self, name) for name in tables}


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number >= 0")
    return value


def _positive_int(raw: str, least: int = 1) -> int:
    value = int(raw)
    if value < least:
        raise ValueError(f"must be a whole number >= {least}")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number >= 0")
    return value


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < 1:
        raise ValueError("must be a fraction from 0 to below 1 (e.g. 0.04 for 4 %)")
    return value


def _share(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError("must be a fraction above 0 and at most 1 (e.g. 0.97)")
    return value


def _frequency_cap(raw: str) -> FrequencyCap:
    try:
        return FrequencyCap.parse(raw)
    except InvalidInput as exc:
        raise ValueError(f"must read like '3 in 7 days' ({exc})") from None


def _frequency_cap_text(raw: str) -> str:
    _frequency_cap(raw)
    return raw


def _name(raw: str) -> str:
    if not raw.strip() or any(ch.isspace() for ch in raw):
        raise ValueError("must be a non-empty name without spaces")
    return raw


def _url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")) or any(ch.isspace() for ch in raw):
        raise ValueError("must be an http(s) URL without spaces")
    return raw.rstrip("/")


def _mailbox(raw: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidInput as exc:
        raise ValueError(f"must be an email address ({exc})") from None


def _identity(raw: str) -> str:
    """An SES identity: an address, or a domain."""
    if "@" in raw:
        return _mailbox(raw)
    domain = raw.strip().lower().rstrip(".")
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(label and len(label) <= 63 for label in labels)
        or any(ch.isspace() or ch in "/:@" for ch in domain)
    ):
        raise ValueError("must be an email address or a domain (example.com)")
    return domain


def _qualifier(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", raw):
        raise ValueError("must be an alias name (letters, digits, '-', '_') or a version number")
    return raw


def _ip_retention(raw: str) -> IpRetention:
    try:
        return IpRetention(raw.strip().lower())
    except ValueError:
        raise ValueError(f"must be one of {', '.join(IpRetention)}") from None


def _keys(raw: str) -> str:
    try:
        SigningKeys.from_json(raw, "keys")
    except InvalidInput as exc:
        raise ValueError(f"must be signing keys JSON: {exc}") from None
    return raw


def _directory(raw: str) -> Path:
    path = Path(raw)
    if not path.is_dir():
        raise ValueError(f"{raw!r} is not a directory")
    return path


_PARSERS: dict[str, Callable[[str], Any]] = {
    **{f.name: _name for f in fields(Settings) if f.name.endswith(("_table", "_function"))},
    "erasure_secret_name": _name,
    "imports_bucket": _name,
    "ses_events_bucket": _name,
    "function_qualifier": _qualifier,
    "sender_identity": _identity,
    "schedule_dead_letter_arn": _name,
    "lease_grace_s": _positive_float,
    "ledger_ttl_days": _positive_float,
    "feedback_ttl_days": _positive_float,
    "import_rejects_days": _positive_float,
    "consent_ip_retention": lambda raw: _ip_retention(raw),
    "consent_ip_days": _positive_float,
    "quota_margin": lambda raw: _non_negative_float(raw),
    "quota_recheck_s": _positive_float,
    "ses_retry_budget_s": _positive_float,
    "ses_outage_after_s": _positive_float,
    "ses_recheck_s": _positive_float,
    "max_epochs": _positive_int,
    "stale_after_s": _positive_float,
    "trigger_function_arn": _name,
    "scheduler_role_arn": _name,
    "schedule_prefix": _name,
    "schedule_group": _name,
    "public_url": lambda raw: _url(raw),
    "unsubscribe_mailto": lambda raw: _mailbox(raw),
    "unsubscribe_secret_name": _name,
    "unsubscribe_keys": lambda raw: _keys(raw),
    "token_max_age_days": _positive_float,
    "signup_source_limit": _positive_int,
    "signup_list_limit": _positive_int,
    "configuration_set": _name,
    "untracked_configuration_set": _name,
    "max_send_rate": _positive_float,
    "ses_latency_ms": _positive_float,
    "max_threads": _positive_int,
    "inline_threads": _positive_int,
    "max_sender_rate": _positive_float,
    "max_senders": _positive_int,
    "branching": lambda raw: _positive_int(raw, 2),  # the plan's least (domain.plan)
    "pacing_factor": _share,
    "switch_interval_ms": _positive_float,
    "inline_threshold": _non_negative_int,
    "pacer_max_rate": _non_negative_float,
    "inline_max_rate": _non_negative_float,
    "sender_timeout_s": _positive_float,
    "trigger_timeout_s": _positive_float,
    "time_margin_s": _positive_float,
    "level_margin_s": _positive_float,
    "page_size": _positive_int,
    "segment_exact_max": _non_negative_int,
    "frequency_cap": _frequency_cap_text,
    "progress_interval_s": _positive_float,
    "heartbeat_senders": _positive_int,
    "templates_dir": _directory,
    "breaker_bounce_rate": _fraction,
    "breaker_complaint_rate": _fraction,
    "breaker_min_sample": _positive_int,
    "soft_bounce_limit": _positive_int,
    "soft_bounce_days": _positive_float,
}


def _parse(name: str, raw: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(raw)
    except ValueError as exc:
        said = str(exc)
        if said.startswith(("could not convert", "invalid literal")):  # float() or int()
            said = "not a whole number" if "int()" in said else "not a number"
        detail = said if "must" in said or "not a" in said else "malformed"
        shown = "<secret>" if name == "unsubscribe_keys" else repr(raw)
        raise InvalidInput(f"setting {PREFIX}{name.upper()}={shown}: {detail}") from None
