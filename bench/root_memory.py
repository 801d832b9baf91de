"""What the pacer needs: peak RSS and CPU per email of a process that imports the trigger's
handler and runs a low-rate campaign inline as the pacer (boto3 over real HTTP to a moto server
in another process, Jinja rendering, the ledger). Its memory is chosen from this peak; its
share of a vCPU (memory / 1,769 MB) from the CPU per email: the rate it keeps is share / CPU.

Prints one JSON object. moto's daily quota is 200 sends: keep --subscribers under it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from dataclasses import replace

from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LocalRuntime

CHILD = """
import json, resource, sys, time
from fanmail import bootstrap
from fanmail.handlers import trigger

class Context:
    function_name = sys.argv[2]
    def get_remaining_time_in_millis(self):
        return 900_000

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

imported = rss_mb()
cpu0, wall0 = time.process_time(), time.monotonic()
answer = trigger.handle(bootstrap.current(), {"campaign_id": sys.argv[1]}, Context())
print(json.dumps({
    "status": answer.get("status"),
    "sent": answer.get("sent"),
    "invocations": answer.get("invocations"),
    "rss_after_import_mb": round(imported, 1),
    "peak_rss_mb": round(rss_mb(), 1),
    "cpu_s": round(time.process_time() - cpu0, 3),
    "wall_s": round(time.monotonic() - wall0, 2),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=150)
    parser.add_argument("--rate", type=float, default=14.0)
    args = parser.parse_args()
    settings = Settings(templates_dir=default_templates_dir(), max_send_rate=args.rate)
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=args.rate, fire_schedules=False
    ) as runtime:
        app = runtime.app
        app.imports.load(
            generate_subscribers("bench", args.subscribers, opted_out_share=0, malformed_share=0)
        )
        campaign = app.campaigns.create(
            CreateCampaign(list_id="bench", template="newsletter", sender=SENDER_ADDRESS)
        )
        keys = json.dumps({"active": "bench", "bench": secrets.token_urlsafe(32)})
        env = {
            **os.environ,
            **replace(runtime.settings, unsubscribe_keys=keys).environment(),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        pacer = runtime.settings.pacer_function
        out = subprocess.run(
            [sys.executable, "-c", CHILD, campaign.campaign_id, pacer],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    sent = max(1, found["sent"] or 0)
    cpu_ms = 1000 * found["cpu_s"] / sent
    found |= {"rate": args.rate, "cpu_ms_per_email": round(cpu_ms, 2)}
    for memory in (128, 256):
        found[f"max_rate_at_{memory}_mb"] = round((memory / 1769) * 1000 / cpu_ms, 1)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
