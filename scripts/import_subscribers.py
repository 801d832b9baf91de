"""Import subscribers into a list: the same as `fanmail import` (see `--help`).

python scripts/import_subscribers.py list.csv --list news [--mode upsert|add-only|unsubscribe]
"""

from __future__ import annotations

import sys

from fanmail_local.cli import main

if __name__ == "__main__":
    sys.exit(main(["import", *sys.argv[1:]]))
