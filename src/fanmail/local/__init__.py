"""Local mode's wiring: the embedded stand-in (moto server, in-process Lambda, schedule firing,
the local API Gateway), the all-in-memory stack for tests and benchmarks, and fault injection.
It sits above the handlers (it runs them as Lambda would); nothing below imports it."""
