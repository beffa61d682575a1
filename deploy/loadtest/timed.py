"""Run a command and write 'user_seconds system_seconds wall_seconds' of its CPU use to a file.

usage: timed.py OUT_FILE COMMAND...   (the load generator's own CPU, reported beside the scenario figures)
"""

import resource
import subprocess
import sys
import time

started = time.monotonic()
code = subprocess.run(sys.argv[2:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_utime:.2f} {usage.ru_stime:.2f} {time.monotonic() - started:.2f}\n")
sys.exit(code)
