#!/usr/bin/env python3
"""Sends events at a steady rate for a bounded time and records, per event id, when its answer arrived.

usage: latency.py HOST PORT KEY RATE SECONDS BODY_FILE OUT_TSV
OUT_TSV lines: event_id <TAB> status <TAB> sent_epoch_s <TAB> answered_epoch_s
"""
import http.client
import json
import sys
import time

host, port, key, rate, seconds, body_file, out = sys.argv[1:8]
rate, seconds = float(rate), float(seconds)
body = open(body_file, "rb").read()
headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
conn = http.client.HTTPConnection(host, int(port), timeout=10)
start = time.monotonic()
deadline = start + seconds
interval = 1.0 / rate
n = 0
with open(out, "w") as f:
    while True:
        due = start + n * interval
        if due >= deadline:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        n += 1
        sent = time.time()
        try:
            conn.request("POST", "/2026-02-01/events.json", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            answered = time.time()
        except Exception as exc:  # count it, reconnect, go on
            f.write("-\terr:%s\t%.6f\t-\n" % (type(exc).__name__, sent))
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            continue
        event_id = "-"
        if resp.status in (200, 202):
            event_id = json.loads(data)["id"]
        f.write("%s\t%d\t%.6f\t%.6f\n" % (event_id, resp.status, sent, answered))
        if time.monotonic() > deadline + 5:
            break
