"""Hostile: forks until something stops it; the children linger."""

import os
import time

children = 0
try:
    while children < 100000:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as exc:
    print(f"fork refused after {children} children: {exc}")
