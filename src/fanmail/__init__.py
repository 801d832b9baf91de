"""fanmail: a serverless mailing-list sender (DynamoDB, recursive Lambda fan-out, Jinja, SES)."""

__version__ = "0.1.0"
