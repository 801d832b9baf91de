"""Use cases, one per module; each takes the ports it needs."""
