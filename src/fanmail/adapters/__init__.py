"""Adapters: the ports implemented for AWS (boto3) and for local mode and tests."""
