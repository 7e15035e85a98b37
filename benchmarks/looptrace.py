#!/usr/bin/env python3
"""Where a lone order's time goes: the loopback traffic of a low-rate checkout step, message by message.

Runs benchmarks/bench.py with one checkout step at LOOPTRACE_RATE/s (default 4; far apart, so an order
has the machine to itself) for LOOPTRACE_SECONDS (default 8), with `tcpdump -i lo` capturing every TCP
segment, and `ss -tnp` noting which process owns each connection once the step runs. Then it decodes
every Postgres protocol message (`Parse`, `Bind`, `Sync`, `Query`, `CommandComplete`, `ReadyForQuery`,
`NOTIFY`) and every HTTP request line, and prints:
  - per order (from wrk's `POST /basket/checkout` to the answer of ordering's second saga write,
    `Completed`): the time with a Postgres request outstanding and with none (the services turning an
    answer into the next request, waking, decoding), and the round trips in that window;
  - per statement (by process and the start of its text): round trips and the median from the request to
    `ReadyForQuery`; and a process's median turnaround from an answer to its next statement;
  - one order's timeline (LOOPTRACE_ORDER, default the 10th), every message with its time.
`looptrace.py lo.pcap ss.txt` reports on a capture made before (LOOPTRACE_OUT keeps the last one). Needs
tcpdump (installed from Debian's packages when missing) and root. Settings: PG_URL, SWN_BIN_DIR (a
release build), LOOPTRACE_RATE, LOOPTRACE_SECONDS, LOOPTRACE_ORDER, LOOPTRACE_OUT (default /tmp/looptrace).
"""
import collections
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = int(os.environ.get("LOOPTRACE_RATE", "4"))
SECONDS = int(os.environ.get("LOOPTRACE_SECONDS", "8"))
ORDER = int(os.environ.get("LOOPTRACE_ORDER", "10"))
OUT = os.environ.get("LOOPTRACE_OUT", "/tmp/looptrace")
PGPORT = urllib.parse.urlparse(os.environ.get("PG_URL", "postgres://swn:swn@127.0.0.1:55432")).port or 5432


def capture():
    if not shutil.which("tcpdump"):
        subprocess.run(["apt-get", "install", "-y", "tcpdump"], check=True, capture_output=True)
    os.makedirs(OUT, exist_ok=True)
    pcap, ss = os.path.join(OUT, "lo.pcap"), os.path.join(OUT, "ss.txt")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-w", pcap, "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    env = dict(os.environ, CHECKOUT_SECONDS=str(SECONDS), BENCH_RATES=str(RATE), BENCH_OUT=os.path.join(OUT, "bench"))
    log = open(os.path.join(OUT, "bench.log"), "w")
    bench = subprocess.Popen([sys.executable, os.path.join(ROOT, "benchmarks", "bench.py"), "--quick", "--checkout-only", "--no-shipping"],
                             env=env, stdout=log, stderr=log)
    # Once wrk runs the step (its environment names the rate), note the connections' owners.
    noted = False
    while bench.poll() is None:
        if not noted:
            for pid in subprocess.run(["pgrep", "-f", "wrk.*checkout"], capture_output=True, text=True).stdout.split():
                try:
                    environment = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
                except OSError:
                    continue
                if ("BENCH_RATE=%d" % RATE).encode() in environment:
                    time.sleep(2)
                    with open(ss, "w") as out:
                        subprocess.run(["ss", "-tnpH"], stdout=out)
                    noted = True
        time.sleep(0.5)
    dump.terminate()
    dump.wait()
    if not noted:
        sys.exit("looptrace: the %d/s step never ran; see %s" % (RATE, log.name))
    return pcap, ss


def owners(ss):
    result = {}
    for line in open(ss):
        m = re.search(r"\S+:(\d+)\s+\S+:(\d+)\s+users:\(\(\"([^\"]+)\",pid=(\d+)", line)
        if m:
            result[int(m.group(1))] = "%s:%s" % (m.group(3)[:14], m.group(4))
    return result


def decode(pcap, ss):
    """Every message, in time order: (time, process, direction, kind, text)."""
    owner = owners(ss)
    name = lambda port: owner.get(port, str(port))
    data = open(pcap, "rb").read()
    nano = struct.unpack("<I", data[:4])[0] == 0xa1b23c4d
    linktype = struct.unpack("<I", data[20:24])[0]
    streams = collections.defaultdict(bytearray)
    statements = {}
    started, answered = set(), set()
    events = []

    def messages(buf):
        """The whole messages at the head of `buf` (a type byte, a length), taken off it."""
        while len(buf) >= 5 and len(buf) >= 1 + struct.unpack(">I", buf[1:5])[0]:
            kind, size = chr(buf[0]), struct.unpack(">I", buf[1:5])[0]
            body = bytes(buf[5:1 + size])
            del buf[:1 + size]
            yield kind, body

    def frontend(port, payload):
        buf = streams[("f", port)]
        buf += payload
        if port not in started:  # the startup message (or an SSL request first): a length, no type
            while len(buf) >= 8 and len(buf) >= struct.unpack(">I", buf[:4])[0]:
                size = struct.unpack(">I", buf[:4])[0]
                ssl = struct.unpack(">I", buf[4:8])[0] == 80877103
                del buf[:size]
                if not ssl:
                    started.add(port)
                    break
            if port not in started:
                return
        for kind, body in messages(buf):
            if kind == "Q":
                yield "Query", body.split(b"\0")[0].decode(errors="replace")
            elif kind == "P":
                statement, rest = body.split(b"\0", 1)
                statements[(port, statement)] = rest.split(b"\0")[0].decode(errors="replace")
                yield "Parse", statements[(port, statement)]
            elif kind == "B":
                statement = body.split(b"\0", 2)[1]
                yield "Bind", statements.get((port, statement), statement.decode(errors="replace"))
            elif kind == "S":
                yield "Sync", ""

    def backend(port, payload):
        buf = streams[("b", port)]
        if not buf and payload[:1] in (b"S", b"N") and port not in answered:  # the answer to an SSL request
            payload = payload[1:]
        answered.add(port)
        buf += payload
        for kind, body in messages(buf):
            if kind == "C":
                yield "Complete", body.rstrip(b"\0").decode()
            elif kind == "Z":
                yield "Ready", chr(body[0])
            elif kind == "A":
                channel, text = body[4:].split(b"\0")[:2]
                yield "NOTIFY", "%s %s" % (channel.decode(), text.decode())
            elif kind == "E":
                yield "ERROR", body[:80].decode(errors="replace")

    at = 24
    while at + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack("<IIII", data[at:at + 16])
        packet = data[at + 16:at + 16 + length]
        at += 16 + length
        t = seconds + fraction / (1e9 if nano else 1e6)
        ip = packet[14 if linktype == 1 else 16:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        header = (ip[0] & 15) * 4
        tcp = ip[header:]
        source, target = struct.unpack(">HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:struct.unpack(">H", ip[2:4])[0] - header]
        if not payload:
            continue
        if target == PGPORT:
            events += [(t, name(source), "pg>", kind, text) for kind, text in frontend(source, payload)]
        elif source == PGPORT:
            events += [(t, name(target), "pg<", kind, text) for kind, text in backend(target, payload)]
        else:
            line = payload.split(b"\r\n")[0][:90].decode(errors="replace")
            if re.match(r"^(GET|POST|PUT|DELETE|PATCH) ", line):
                events.append((t, name(source), "http>", name(target), line))
            elif line.startswith("HTTP/1.1"):
                events.append((t, name(source), "http<", name(target), line))
    events.sort(key=lambda e: e[0])
    return events


def report(events):
    checkouts = [i for i, e in enumerate(events) if e[2] == "http>" and "checkout" in e[4] and e[1].startswith("wrk")]
    if not checkouts:
        sys.exit("looptrace: no checkout of the step was seen")
    ms = lambda seconds: seconds * 1000.0
    # Per order: the window from the checkout to the answer of the second saga write (`Completed`).
    windows = []
    for first in checkouts:
        t0, writes, last = events[first][0], 0, None
        for j in range(first, len(events)):
            t, process, direction, kind, text = events[j]
            if t - t0 > 2.0:
                break
            if direction == "pg>" and kind == "Bind" and "UPDATE orders SET status" in text:
                writes += 1
            if writes == 2 and direction == "pg<" and kind == "Complete" and process.startswith("ordering"):
                last = j
                break
        if last is None:
            continue
        outstanding, busy, idle, trips, previous = collections.Counter(), 0.0, 0.0, 0, t0
        for t, process, direction, kind, text in events[first:last + 1]:
            if sum(outstanding.values()) > 0:
                busy += t - previous
            else:
                idle += t - previous
            previous = t
            if direction == "pg>" and kind in ("Sync", "Query"):
                outstanding[process] += 1
                trips += 1
            elif direction == "pg<" and kind == "Ready" and outstanding[process] > 0:
                outstanding[process] -= 1
        windows.append((ms(events[last][0] - t0), ms(busy), ms(idle), trips))
    print("looptrace: %d orders at %d/s" % (len(windows), RATE))
    if windows:
        print("  checkout→Completed p50 %.1f ms: a Postgres request outstanding %.1f ms, none %.1f ms; %d round trips in the window (p50)" % (
            statistics.median(w[0] for w in windows), statistics.median(w[1] for w in windows),
            statistics.median(w[2] for w in windows), statistics.median(w[3] for w in windows)))
    # Per statement: request → ReadyForQuery; and each process's turnaround to its next statement.
    begin, end = events[checkouts[0]][0], events[checkouts[-1]][0] + 0.1
    pending, last_ready, trips, turnaround = {}, {}, collections.defaultdict(list), []
    for t, process, direction, kind, text in events:
        if not begin <= t <= end:
            continue
        if direction == "pg>" and kind in ("Bind", "Query", "Parse") and process not in pending:
            pending[process] = (t, text)
            if process in last_ready and t - last_ready[process] < 0.005:
                turnaround.append(t - last_ready[process])
        elif direction == "pg<" and kind == "Ready" and process in pending:
            sent, text = pending.pop(process)
            trips["%-12s %s" % (process.split(":")[0][:12], " ".join(text.split())[:70] or "(empty query)")].append(t - sent)
            last_ready[process] = t
    if turnaround:
        print("  a service's turnaround from an answer to its next statement: median %.3f ms, mean %.3f ms (%d)" % (
            ms(statistics.median(turnaround)), ms(statistics.mean(turnaround)), len(turnaround)))
    print("  round trips by statement (count, median request → ReadyForQuery):")
    for key, values in sorted(trips.items(), key=lambda item: -len(item[1]))[:40]:
        print("    %5d %7.3f ms  %s" % (len(values), ms(statistics.median(values)), key))
    chosen = checkouts[min(ORDER, len(checkouts) - 1)]
    print("  order %d's timeline (ms from its checkout; the bus's idle receives left out):" % min(ORDER, len(checkouts) - 1))
    t0 = events[chosen][0]
    for t, process, direction, kind, text in events[chosen:]:
        if t - t0 > 0.06:
            break
        if (kind == "Ready" and text == "I") or "bus_messages WHERE" in text:
            continue
        print("    %8.3f %-22s %-5s %-9s %s" % (ms(t - t0), process, direction, kind, " ".join(text.split())[:100]))


if __name__ == "__main__":
    # `looptrace.py <lo.pcap> <ss.txt>` reads a capture made before instead of making one.
    report(decode(*(sys.argv[1:3] if len(sys.argv) == 3 else capture())))
