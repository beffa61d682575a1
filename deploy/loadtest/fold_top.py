"""Summarise a py-spy collapsed-stack profile: where the samples are, by own frame and by project function.

usage: fold_top.py FILE.folded [N]
"""

import sys
from collections import Counter

own: Counter[str] = Counter()
inclusive: Counter[str] = Counter()
total = 0
with open(sys.argv[1]) as folded:
    lines = folded.read().splitlines()
for line in lines:
    stack, _, count = line.rstrip().rpartition(" ")
    n = int(count)
    total += n
    frames = stack.split(";")
    own[frames[-1]] += n
    for frame in set(frames):
        inclusive[frame] += n
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
print(f"{total} samples\n-- own time")
for frame, n in own.most_common(top):
    print(f"{100 * n / total:5.1f}%  {frame[:150]}")
print("-- inclusive, project code and libraries of interest")
for frame, n in inclusive.most_common(400):
    if any(
        key in frame
        for key in ("fleet/", "rentals/", "customers/", "drivenow_", "rest_framework/", "django/", "psycopg")
    ):
        print(f"{100 * n / total:5.1f}%  {frame[:150]}")
        top -= 1
        if top <= 0:
            break
