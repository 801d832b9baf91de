"""The Lambda functions, declared once: logical name, the template's resource, handler module,
timeout and memory, and whether fanmail invokes it (then `Settings` has its deployed name).
template.yaml must say the same (a test checks); local mode registers each one from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    """The logical name fanmail invokes it by ('sender', 'trigger', ...)."""
    resource: str
    """Its logical id in template.yaml."""
    module: str
    """Its handler module: `handler(event, context)` for Lambda, `handle(app, event, context)`
    for local mode and the tests."""
    timeout_s: float
    memory_mb: int
    invoked: bool = False

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"


FUNCTIONS = (
    Function("trigger", "TriggerFunction", "fanmail.handlers.trigger", 900.0, 1024, True),
    Function("pacer", "PacerFunction", "fanmail.handlers.trigger", 900.0, 256, True),
    Function("api", "ApiFunction", "fanmail.handlers.api", 25.0, 1024),
    Function("sender", "SenderFunction", "fanmail.handlers.sender", 300.0, 1769, True),
    Function("heartbeat", "HeartbeatFunction", "fanmail.handlers.heartbeat", 60.0, 256),
    Function("public", "PublicFunction", "fanmail.handlers.public", 10.0, 512),
    Function("inbound", "InboundFunction", "fanmail.handlers.inbound", 30.0, 256),
    Function("feedback", "FeedbackFunction", "fanmail.handlers.feedback", 60.0, 512),
    Function("importer", "ImporterFunction", "fanmail.handlers.importer", 900.0, 1024, True),
    Function("retention", "RetentionFunction", "fanmail.handlers.retention", 900.0, 512, True),
    Function("eraser", "EraserFunction", "fanmail.handlers.eraser", 600.0, 512, True),
    Function("notify", "NotifyFunction", "fanmail.handlers.notify", 60.0, 512),
    Function("counter", "CounterFunction", "fanmail.handlers.counter", 900.0, 512, True),
)
BY_NAME = {function.name: function for function in FUNCTIONS}
SENDER, TRIGGER, PACER = BY_NAME["sender"], BY_NAME["trigger"], BY_NAME["pacer"]
API, IMPORTER, ERASER = BY_NAME["api"], BY_NAME["importer"], BY_NAME["eraser"]
COUNTER, RETENTION = BY_NAME["counter"], BY_NAME["retention"]
