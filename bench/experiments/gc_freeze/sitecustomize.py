"""Experiment, not part of the service: put this directory on PYTHONPATH and set
BENCH_GC_FREEZE=<seconds> to make every Python process call gc.freeze() that
often, so the collector's full passes skip the long-lived socket objects.

    BENCH_GC_FREEZE=2 PYTHONPATH=bench/experiments/gc_freeze \\
        .venv/bin/python -m bench ws --size full

(It also reaches the client processes, which freeze themselves anyway.)
"""

import gc
import os
import threading
import time


def _freeze_forever(every: float) -> None:
    while True:
        time.sleep(every)
        gc.freeze()


if os.environ.get("BENCH_GC_FREEZE"):
    threading.Thread(target=_freeze_forever, args=(float(os.environ["BENCH_GC_FREEZE"]),),
                     daemon=True, name="gc-freeze").start()
