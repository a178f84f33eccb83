#!/usr/bin/env python3
"""Joins the sender's 202 times with nginx's $msec by webhook-id; prints key=value lines.

usage: join_latency.py SENDER_TSV RECEIVER_LOG
RECEIVER_LOG lines: msec <TAB> status <TAB> webhook_id <TAB> request_length
"""
import sys

sender, receiver = sys.argv[1:3]
answered = {}
sent_at = {}
total = ok = 0
for line in open(sender):
    parts = line.rstrip("\n").split("\t")
    total += 1
    if parts[1] == "202":
        ok += 1
        answered[parts[0]] = float(parts[3])
        sent_at[parts[0]] = float(parts[2])
first_seen = {}
for line in open(receiver):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3 or parts[2] not in answered:
        continue
    t = float(parts[0])
    if parts[2] not in first_seen or t < first_seen[parts[2]]:
        first_seen[parts[2]] = t
lat = sorted((first_seen[i] - answered[i]) * 1000.0 for i in first_seen)
from_send = sorted((first_seen[i] - sent_at[i]) * 1000.0 for i in first_seen)
missing = [i for i in answered if i not in first_seen]


def pct(p, lat=lat):
    if not lat:
        return float("nan")
    k = max(0, min(len(lat) - 1, int(round(p / 100.0 * len(lat) + 0.5)) - 1))
    return lat[k]


print("sent=%d accepted=%d delivered=%d missing=%d" % (total, ok, len(lat), ok - len(lat)))
print("p50=%.2f p90=%.2f p99=%.2f max=%.2f" % (pct(50), pct(90), pct(99), lat[-1] if lat else float("nan")))
print("send_p50=%.2f send_p99=%.2f" % (pct(50, from_send), pct(99, from_send)))
print("missing_ids=%s" % ",".join(missing[:20]))
