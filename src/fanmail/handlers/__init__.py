"""Thin Lambda entry points: parse the event, call a service, shape the answer.

Each module exposes `handler(event, context)` for Lambda (App built once per cold start) and
`handle(app, event, context)` for local mode and tests, which pass their own App.
"""
