"""A second process for the replay tests: threads calling `Store.remember_token`.

    python -m tests.db.token_worker URL START THREADS ISSUER JTI...

Every thread waits until the Unix time START, then calls `remember_token(ISSUER, jti)`
for each JTI in turn; the process prints, as JSON, how many calls returned True per jti.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from service.store import Store

LIFETIME = timedelta(minutes=5)


def accepted(url: str, start: float, threads: int, issuer: str, jtis: list[str]) -> Counter[str]:
    """How many calls, over `threads` threads of this process, returned True per jti."""
    store = Store.open(url)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    expires_at = datetime.now(UTC) + LIFETIME

    def run() -> None:
        time.sleep(max(0.0, start - time.time()))
        for jti in jtis:
            if store.remember_token(issuer, jti, expires_at):
                with lock:
                    counts[jti] += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    store.close()
    return counts


def main(argv: list[str]) -> int:
    url, start, threads, issuer, *jtis = argv
    counts = accepted(url, float(start), int(threads), issuer, jtis)
    print(json.dumps({jti: counts[jti] for jti in jtis}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
