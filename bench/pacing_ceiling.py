"""How close to R any pacer can send through SES's strict one-second window, before overhead.

Perfect pacing, no threads, no CPU: sends at exactly `factor · R` per second, either on one
evenly spaced grid (a shared schedule of slots) or on `--senders` grids of random phase (one
pacer per sender, as fanmail runs), each send reaching the SES simulator after half of a latency
drawn from its own model (uniform ±50 %, lognormal, Pareto). The simulator judges the arrivals
as it judges real runs. For each factor it prints how many of `--runs` campaigns of
`--subscribers` saw a throttle: the highest factor with none is the ceiling a pacer could reach
for that latency model, and `bench/fanout.py`'s `rate_efficiency` is that minus what planning,
fan-out, start-up, the tail and a busy CPU cost.
"""

from __future__ import annotations

import argparse
import json
import random

from fanmail.domain.model import OutgoingEmail
from fanmail_local.adapters.clock import ManualClock
from fanmail_local.adapters.ses_simulator import SesSimulator

SENDER = "bench@example.com"


def send_times(n: int, rate: float, senders: int, rng: random.Random) -> list[float]:
    """When `n` sends leave at `rate` in total: one grid, or `senders` grids of random phase."""
    if senders == 1:
        return [k / rate for k in range(n)]
    share = rate / senders
    times: list[float] = []
    for i in range(senders):
        phase = rng.random() / share
        times += [phase + k / share for k in range((n + senders - 1 - i) // senders)]
    return times


def throttles(n: int, rate: float, factor: float, senders: int, dist: str, seed: int) -> int:
    """Throttles SES answers to one campaign paced perfectly at `factor · rate`."""
    clock = ManualClock(start=0.0)
    ses = SesSimulator(clock, rate, latency_s=0.06, verified={SENDER}, seed=seed, latency_dist=dist)
    rng = random.Random(seed)
    arrivals = sorted(
        t + ses.draw_latency() / 2 for t in send_times(n, rate * factor, senders, rng)
    )
    email = OutgoingEmail(sender=SENDER, to="a@example.com", subject="s", html="h", text="t")
    for at in arrivals:
        clock.advance(at - clock.now())
        ses.arrive(email)  # judged as a real run's arrival; an over-limit one is counted
    return ses.throttled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--senders", type=int, default=3, help="independent pacers (1: shared)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--factors", type=float, nargs="+", default=[0.97, 0.975, 0.98, 0.985, 0.99]
    )
    args = parser.parse_args()
    report: dict[str, object] = {"subscribers": args.subscribers, "rate": args.rate}
    ceilings: dict[str, dict[str, float]] = {}
    for dist in ("uniform", "lognormal", "pareto"):
        for senders, layout in ((1, "shared_schedule"), (args.senders, "pacer_per_sender")):
            rows = {}
            ceiling, failed = 0.0, False
            for factor in sorted(args.factors):
                counts = [
                    throttles(args.subscribers, args.rate, factor, senders, dist, seed)
                    for seed in range(args.runs)
                ]
                rows[str(factor)] = {
                    "runs_throttled": sum(1 for c in counts if c),
                    "throttles": sum(counts),
                }
                failed = failed or any(counts)
                if not failed:
                    ceiling = factor
            report[f"{dist}/{layout}"] = rows
            ceilings.setdefault(dist, {})[layout] = ceiling
    report["ceiling"] = ceilings
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
