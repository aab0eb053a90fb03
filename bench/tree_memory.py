#!/usr/bin/env python3
"""Peak memory of a whole process tree: a command and every process descended from it.

    tree_memory.py [--interval SECONDS] [--pss-share FRACTION] [--report FILE] -- COMMAND [ARG...]

Runs COMMAND (standard input, output and error inherited) and follows the processes whose parent
chain leads to it (/proc/PID/stat). Every --interval (default 0.02 s) it sums their RSS from
/proc/PID/status, which costs next to nothing; as often as --pss-share allows (default: at most a
fifth of one core) it sums their PSS, shared-memory PSS and RSS from /proc/PID/smaps_rollup. It
keeps the largest sums seen and writes them as one JSON object to --report (standard error
without it), with the CPU time of COMMAND and the children it waited for, and the monitor's own.
Exits with COMMAND's exit code.

Why PSS: tilefork's workers all map the one frame segment. RSS counts each of its resident pages
once per process that touched it, so the RSS sum grows with the worker count; PSS divides every
shared page among the processes that map it, so the PSS sum counts the segment once.

Why two rates: the kernel computes PSS by visiting every resident page, about 10 ms per process
that maps a 350 MiB segment. Read every 20 ms for three processes, that would take a whole core
from the command it measures on a 2-core machine.

The peaks are sampled, not exact: a spike between two samples is missed, and a sample during which
a process of the tree started or ended is left out (unsteady_samples). The reads of one sample are
not atomic either: while a worker first touches pages of the segment, their shares change between
two reads and the PSS sum can count part of the segment twice. pss_private_kib (PSS less shared
memory, summed) has no such skew; add the segment's size to it for a bound of the tree.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def parent_of(pid):
    """The parent pid from /proc/PID/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last.
    fields = text[text.rindex(b")") + 2:].split()
    return int(fields[1])


class ProcessTree:
    """Finds a root process's live descendants from the parent pids in /proc/PID/stat.

    A full scan of /proc reads every process's stat file, which costs milliseconds on a busy
    machine. Parents are remembered instead, and read again only for new pids and for the
    processes of the tree (whose parent changes if theirs dies)."""

    def __init__(self, root):
        self.root = root
        self.parents = {}
        self.members = set()

    def pids(self):
        """The root and all its descendants alive now, as a sorted list."""
        alive = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        for pid in list(self.parents):
            if pid not in alive:
                del self.parents[pid]
        for pid in alive:
            if pid not in self.parents or pid in self.members:
                ppid = parent_of(pid)
                if ppid is None:
                    self.parents.pop(pid, None)
                else:
                    self.parents[pid] = ppid
        children = {}
        for pid, ppid in self.parents.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        self.members = set(tree)
        return sorted(tree)


def read_kib(path, first_line):
    """The 'Key: N kB' lines of a /proc file from first_line on, as {key: N}; None when gone."""
    try:
        with open(path) as source:
            lines = source.readlines()
    except OSError:
        return None
    values = {}
    for line in lines[first_line:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            values[key] = int(parts[0])
    return values


def sum_status(pids):
    """Sums of VmRSS and RssAnon over pids, from /proc/PID/status (counters: no page walk)."""
    total = {"rss_kib": 0, "rss_anon_kib": 0}
    for pid in pids:
        values = read_kib(f"/proc/{pid}/status", 0)
        if values:
            total["rss_kib"] += values.get("VmRSS", 0)
            total["rss_anon_kib"] += values.get("RssAnon", 0)
    return total


def sum_rollup(pids):
    """Sums of PSS, PSS less shared memory, shared-memory PSS and RSS over pids, from smaps_rollup."""
    total = {"pss_kib": 0, "pss_private_kib": 0, "pss_shmem_kib": 0, "rollup_rss_kib": 0}
    for pid in pids:
        values = read_kib(f"/proc/{pid}/smaps_rollup", 1)  # line 1 is the address range
        if values:
            total["pss_kib"] += values.get("Pss", 0)
            total["pss_private_kib"] += values.get("Pss", 0) - values.get("Pss_Shmem", 0)
            total["pss_shmem_kib"] += values.get("Pss_Shmem", 0)
            total["rollup_rss_kib"] += values.get("Rss", 0)
    return total


def main():
    parser = argparse.ArgumentParser(description="peak PSS and RSS of a command's whole process tree")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between samples (0.02)")
    parser.add_argument("--pss-share", type=float, default=0.2,
                        help="largest share of one core spent reading PSS (0.2)")
    parser.add_argument("--report", help="write the JSON result here instead of standard error")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    arguments = parser.parse_args()
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    if not command:
        parser.error("no command given")
    if not 0 < arguments.pss_share <= 1:
        parser.error("--pss-share wants a fraction above 0, at most 1")

    peak = {"rss_kib": 0, "rss_anon_kib": 0, "pss_kib": 0, "pss_private_kib": 0, "pss_shmem_kib": 0,
            "rollup_rss_kib": 0, "processes": 0}
    counts = {"samples": 0, "pss_samples": 0, "unsteady_samples": 0}
    next_rollup = 0.0
    started = time.monotonic()
    child = subprocess.Popen(command)
    tree = ProcessTree(child.pid)
    while True:
        # wait4 rather than poll: it gives the CPU time of the command and the workers it reaped,
        # without the monitor's own.
        reaped, status, usage = os.wait4(child.pid, os.WNOHANG)
        if reaped == child.pid:
            break
        members = tree.pids()
        sample = sum_status(members)
        sample["processes"] = len(members)
        now = time.monotonic()
        if now >= next_rollup:
            sample.update(sum_rollup(members))
            cost = time.monotonic() - now
            next_rollup = now + cost / arguments.pss_share
        # A fork or an exit between two reads changes how the shared pages are divided, and the sums
        # can count the segment more than once: such a sample is left out.
        if tree.pids() != members:
            counts["unsteady_samples"] += 1
        else:
            for key, value in sample.items():
                peak[key] = max(peak[key], value)
            counts["samples"] += 1
            counts["pss_samples"] += "pss_kib" in sample
        time.sleep(arguments.interval)
    code = os.waitstatus_to_exitcode(status)
    own = resource.getrusage(resource.RUSAGE_SELF)
    result = dict(peak, **counts, seconds=round(time.monotonic() - started, 3), exit_code=code,
                  cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
                  monitor_cpu_seconds=round(own.ru_utime + own.ru_stime, 3), command=command)
    text = json.dumps(result)
    if arguments.report:
        with open(arguments.report, "w") as report:
            report.write(text + "\n")
    else:
        print(text, file=sys.stderr)
    # A command killed by a signal exits as a shell would report it.
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
