#!/usr/bin/env python3
"""Delivery throughput from nginx's receiver log: lines of msec <TAB> status <TAB> webhook_id <TAB> length.

usage: span.py RECEIVER_LOG [INTAKE_END_EPOCH_S]
Prints lines, unique ids, first, last, rate over first..last, and the drain rate after the intake ended.
"""
import sys

times, ids = [], set()
reused = 0
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3 or not parts[2].startswith("evt_"):
        continue
    times.append(float(parts[0]))
    ids.add(parts[2])
    if len(parts) > 4 and parts[4].isdigit() and int(parts[4]) > 1:
        reused += 1
times.sort()
n = len(times)
span = (times[-1] - times[0]) if n > 1 else 0.0
rate = (n - 1) / span if span > 0 else 0.0
out = "lines=%d unique_events=%d span_s=%.3f rate=%.1f reused=%.1f%%" % (n, len(ids), span, rate, 100.0 * reused / n if n else 0.0)
if len(sys.argv) > 2 and n:
    end = float(sys.argv[2])
    tail = [t for t in times if t > end]
    tspan = (times[-1] - end) if tail else 0.0
    out += " after_intake=%d drain_rate=%.1f" % (len(tail), len(tail) / tspan if tspan > 0 else 0.0)
print(out)
