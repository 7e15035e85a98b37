#!/usr/bin/env python3
"""A short reading of gdb's `thread apply all bt` dumps (scripts/swift-test.sh's watchdog, and a test whose
service did not end on SIGTERM): per file, the threads that are not idle (an event loop in epoll_wait, a
Dispatch worker waiting for work), each as its frames' function names, demangled.

    scripts/stacks_digest.py FILE...
"""
import re
import shutil
import subprocess
import sys

IDLE = ("epoll_wait", "_dispatch_worker_thread", "_dispatch_sig_thread", "_dispatch_mgr_thread",
        "NIOThreadPoolWorkAvailable", "__CFSocketManager", "__CFRunLoopRun")
FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+)")


def demangle(names):
    swift = shutil.which("swift")
    if not swift or not names:
        return names
    try:
        out = subprocess.run([swift, "demangle", "--simplified", "--compact"], input="\n".join(names), text=True,
                             capture_output=True, timeout=60).stdout.splitlines()
        return out if len(out) == len(names) else names
    except Exception:
        return names


def threads(text):
    current = None
    for line in text.splitlines():
        if line.startswith("Thread "):
            current = [line.split(" (", 1)[0] + " " + (re.search(r'"([^"]*)"', line) or re.search("()", "")).group(1), [], []]
            yield current
        elif current is not None:
            match = FRAME.match(line)
            if match:
                current[1].append(match.group(1))
                current[2].append(line)


for path in sys.argv[1:]:
    text = open(path, errors="replace").read()
    found = list(threads(text))
    busy = [(name, frames) for name, frames, lines in found if not any(any(idle in line for idle in IDLE) for line in lines[:16])]
    print("-- %s: %d threads, %d not idle" % (path.rsplit("/", 1)[-1], len(found), len(busy)))
    for name, frames in busy[:8]:
        names = demangle([f for f in frames if f not in ("??",)][:14])
        print("  %s: %s" % (name, " ← ".join(n[:90] for n in names)))
