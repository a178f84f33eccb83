#!/usr/bin/env python3
"""Deliveries of one bench/scaleout row, from its slice of nginx's receiver log.

usage: scaleout_log.py RECEIVER_LOG INTAKE_START INTAKE_END HOOKS

Log lines: msec <TAB> status <TAB> webhook_id <TAB> length <TAB> connection_requests <TAB> request_time <TAB> uri.
Each webhook of the row has its own path (/hook/1 ... /hook/HOOKS), so a (uri, webhook-id) pair is one delivery:
one event to one webhook. Only lines whose webhook-id starts with evt_ count.

Prints key=value pairs on one line:
  lines        every delivery request received (retries and duplicates included)
  pairs        distinct (webhook, event) pairs received
  duplicates   lines - pairs (the same event to the same webhook more than once)
  events       distinct events received at one webhook at least
  incomplete   events received by fewer than HOOKS webhooks; missing_pairs: how many pairs those lack
  non204       lines whose status was not 204
  during       deliveries received up to INTAKE_END; after: received after it
  drain_s      last delivery - INTAKE_END (0 when nothing came after the intake)
  drain_rate   after / drain_s
  overall_rate lines / (last delivery - INTAKE_START)
  during_rate  during / (INTAKE_END - INTAKE_START)
  peak_1s      the most deliveries received in one whole second
"""
import collections
import sys

path, start, end, hooks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
times = []
pairs = set()
hooks_per_event = collections.defaultdict(set)
non204 = 0
for line in open(path, errors="replace"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 7 or not parts[2].startswith("evt_"):
        continue
    t = float(parts[0])
    times.append(t)
    pairs.add((parts[6], parts[2]))
    hooks_per_event[parts[2]].add(parts[6])
    if parts[1] != "204":
        non204 += 1

times.sort()
n = len(times)
last = times[-1] if n else end
during = sum(1 for t in times if t <= end)
after = n - during
drain_s = max(0.0, last - end) if after else 0.0
buckets = collections.Counter(int(t) for t in times)
# Only whole seconds inside the run count for the peak (the first and last buckets are partial).
whole = [c for s, c in buckets.items() if n and int(times[0]) < s < int(last)]
incomplete = [e for e, hs in hooks_per_event.items() if len(hs) < hooks]
out = {
    "lines": n,
    "pairs": len(pairs),
    "duplicates": n - len(pairs),
    "events": len(hooks_per_event),
    "incomplete": len(incomplete),
    "missing_pairs": sum(hooks - len(hooks_per_event[e]) for e in incomplete),
    "non204": non204,
    "during": during,
    "after": after,
    "drain_s": "%.2f" % drain_s,
    "drain_rate": "%.0f" % (after / drain_s if drain_s > 0 else 0),
    "overall_rate": "%.0f" % (n / (last - start) if n and last > start else 0),
    "during_rate": "%.0f" % (during / (end - start) if end > start else 0),
    "peak_1s": max(whole) if whole else (max(buckets.values()) if buckets else 0),
}
print(" ".join("%s=%s" % kv for kv in out.items()))
