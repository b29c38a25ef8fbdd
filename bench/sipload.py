#!/usr/bin/env python3
"""Load benchmark: the same SIPp load against `sipwire serve` and Kamailio (issue 6).

For each server it measures, on loopback:
  1. the highest call rate (INVITE/180/200/ACK, 100 ms, BYE/200 through the record-routing
     proxy) sustained with under 0.1% failed calls;
  2. the server's CPU seconds per 1,000 calls, at a rate both servers sustained and at
     each server's own maximum;
  3. the server's peak memory (sipwire: RSS of its one process; Kamailio: PSS summed over
     all its processes, sampled from /proc/PID/smaps_rollup during the run);
  4. the highest REGISTER rate sustained with under 0.1% failures (distinct users);
  5. whether SIPp itself was the limit (its CPU near a full core).

Method: start the server; register one callee; start a SIPp UAS (uas_rr.xml) for it; drive
SIPp UAC (uac_rr.xml) at a rate for a fixed time; step the rate up by doubling, then bisect
between the last rate that passed and the first that failed. A step passes when under 0.1%
of its calls failed or never completed and SIPp created them at the asked rate (the run
lasted no longer than the duration plus a small slack). Server CPU is utime+stime (and that
of reaped children) of every process in the server's process group, from /proc, read
before and after each step, and shown split into user and system (kernel) time. Then the
same search with register.xml over a users file.

Standard library only. Every process it starts is killed at the end, on errors and on
Ctrl-C. Every command line it runs is written to commands.log in the output directory.
"""

import argparse
import atexit
import csv
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(REPO, "tests", "interop", "sipp")
KAMAILIO_CFG = os.path.join(REPO, "bench", "kamailio", "kamailio.cfg")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
FAIL_LIMIT = 0.001  # "under 0.1% failed"
UAC_RECV_TIMEOUT_S = 10.0  # SIPp UAC: a message not received after this fails the call
SIPP_SATURATED = 0.85  # a SIPp process above this share of one core is the limit
BUFF = 4 * 1024 * 1024
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scenario_copies(outdir):
    """The SIPp scenarios, copied from tests/interop/sipp with late messages tolerated.

    With UDP and a proxy that works in several processes or threads (Kamailio's -n 2),
    the 180 can reach the UAC after the 200 and the ACK can reach the UAS after the BYE.
    The scenarios there mark those recvs optional="true", which SIPp only accepts before
    the next mandatory message; a late one then aborts the call as "unexpected" - a SIPp
    artifact, not a server failure. Here they become optional="global" (accepted any
    time in the call); nothing else changes.
    """
    d = os.path.join(outdir, "scenarios")
    os.makedirs(d, exist_ok=True)
    out = {}
    edits = {
        "uac_rr.xml": [('<recv response="100" optional="true"', '<recv response="100" optional="global"'),
                       ('<recv response="180" optional="true"', '<recv response="180" optional="global"')],
        "uas_rr.xml": [('<recv request="ACK" optional="true"', '<recv request="ACK" optional="global"')],
        "register.xml": [],
    }
    for name, subs in edits.items():
        with open(os.path.join(SCENARIOS, name)) as f:
            text = f.read()
        for old, new in subs:
            if old not in text:
                log(f"note: {name} no longer has {old!r}; using it unchanged there")
            text = text.replace(old, new)
        out[name] = os.path.join(d, name)
        with open(out[name], "w") as f:
            f.write(text)
    return out


SCEN = {}
# The programs run, by name: symlinks under the output directory (see aliases()).
TOOL = {"sipp": "sipp"}


def aliases(outdir, args):
    """Symlinks to sipp, kamailio and sipwire with names that contain none of those words.

    Other scripts on a shared machine clean up with `pkill sipp`, `pkill kamailio` or
    `pkill -f "sipwire serve"`, which would kill this benchmark's processes mid-step;
    under these names they are left alone. The targets are recorded in the report.
    """
    d = os.path.join(outdir, "bin")
    os.makedirs(d, exist_ok=True)
    out = {}
    for name, target, alias in [("sipp", shutil.which("sipp"), "siptester"),
                                ("kamailio", shutil.which(args.kamailio_bin), "kbench"),
                                ("sipwire", os.path.abspath(args.sipwire_bin), "swbench")]:
        if not target or not os.path.exists(target):
            continue
        link = os.path.join(d, alias)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.realpath(target), link)
        out[name] = link
    return out


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Processes: every child gets its own process group (its pid), killed as a group at exit.


class Procs:
    def __init__(self):
        self.children = []
        self.cmdlog = None

    def record(self, cmd, cwd):
        line = f"(cd {shlex.quote(cwd)} && {shlex.join(cmd)})"
        if self.cmdlog:
            with open(self.cmdlog, "a") as f:
                f.write(line + "\n")
        return line

    def spawn(self, cmd, cwd, stdout=None, stderr=None):
        self.record(cmd, cwd)
        p = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout or subprocess.DEVNULL,
            stderr=stderr or subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children.append(p)
        return p

    def stop(self, p, grace=5.0):
        """SIGTERM the child's process group, then SIGKILL it if still there."""
        if p.returncode is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The group may outlive its leader (Kamailio's children).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.returncode is None:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if p in self.children:
            self.children.remove(p)

    def stop_all(self):
        for p in list(reversed(self.children)):
            self.stop(p, grace=3.0)


PROCS = Procs()


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------------------------------
# /proc


def read_stat(pid):
    """(ppid, pgrp, cpu seconds incl. reaped children, user seconds, system seconds) of a
    process, or None. User is utime + cutime, system is stime + cstime (kernel time:
    system calls, and on loopback the delivery of what it sends into the receiver's socket)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    user, system = (utime + cutime) / CLK_TCK, (stime + cstime) / CLK_TCK
    return int(rest[1]), int(rest[2]), user + system, user, system


def group_pids(pgid):
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(name)
            if st and st[1] == pgid:
                pids.append(int(name))
    return pids


def group_cpu(pgid):
    """CPU seconds used so far by the process group (live members and those they reaped)."""
    return group_cpu_split(pgid)[0]


def group_cpu_split(pgid):
    """(total, user, system) CPU seconds used so far by the process group."""
    total = user = system = 0.0
    for pid in group_pids(pgid):
        st = read_stat(pid)
        if st:
            total += st[2]
            user += st[3]
            system += st[4]
    return total, user, system


def proc_cpu(pid):
    st = read_stat(pid)
    return st[2] if st else 0.0


def machine_busy():
    """(busy, total) jiffies of all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    total = sum(v[:8])
    return total - idle, total


def mem_of(pid):
    """(pss kB, rss kB) of one process, from smaps_rollup (status as a fallback)."""
    pss = rss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    if rss is None:
        rss = status_kb(pid, "VmRSS") or 0
    return (pss if pss is not None else rss), rss


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class MemSampler(threading.Thread):
    """Samples the summed PSS and RSS of a process group; keeps the peak per phase."""

    def __init__(self, pgid, interval):
        super().__init__(daemon=True)
        self.pgid = pgid
        self.interval = interval
        self.phase = "idle"
        self.peaks = {}  # phase -> (pss kB, rss kB, processes)
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self):
        pss = rss = 0
        pids = group_pids(self.pgid)
        for pid in pids:
            p, r = mem_of(pid)
            pss += p
            rss += r
        old = self.peaks.get(self.phase, (0, 0, 0))
        self.peaks[self.phase] = (max(old[0], pss), max(old[1], rss), max(old[2], len(pids)))

    def peak(self):
        pss = max((v[0] for v in self.peaks.values()), default=0)
        rss = max((v[1] for v in self.peaks.values()), default=0)
        n = max((v[2] for v in self.peaks.values()), default=0)
        return pss, rss, n


# ---------------------------------------------------------------------------------------
# Ports and readiness


def port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def options_ping(port, proc, timeout=15.0):
    """Waits until the server on 127.0.0.1:port answers OPTIONS over UDP."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    me = "%s:%d" % s.getsockname()
    deadline = time.time() + timeout
    n = 0
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                return False
            n += 1
            msg = (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {me};branch=z9hG4bK-bench-{os.getpid()}-{n}\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:bench@{me}>;tag=b{n}\r\n"
                f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: bench-ping-{os.getpid()}-{n}\r\n"
                f"CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            s.sendto(msg.encode(), ("127.0.0.1", port))
            try:
                data = s.recv(4096)
                if data.startswith(b"SIP/2.0 "):
                    return True
            except socket.timeout:
                pass
        return False
    finally:
        s.close()


# ---------------------------------------------------------------------------------------
# SIPp


SIPP_COMMON = [
    "-i", "127.0.0.1", "-bind_local", "-t", "u1", "-nostdin",
    "-buff_size", str(BUFF), "-max_log_size", "2000000",
]


@dataclass
class SippResult:
    rc: int = -1
    wall: float = 0.0
    cpu: float = 0.0  # CPU seconds of the SIPp process
    stats: dict = field(default_factory=dict)
    errors: int = 0  # lines in the error log
    error_sample: str = ""
    codes: dict = field(default_factory=dict)  # unexpected response code -> count
    cmd: str = ""


def sipp_stats(path):
    """The last (cumulative) row of a SIPp -trace_stat file, as name -> text."""
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f, delimiter=";") if r]
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


def num(stats, key):
    try:
        return int(stats.get(key, "0") or 0)
    except ValueError:
        return 0


def wait_rusage(p, deadline):
    """Waits for a child (killing its group at the deadline); returns its CPU seconds."""
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime + ru.ru_stime
        if time.time() > deadline:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.time() + 3600
        time.sleep(0.02)


def run_sipp_clients(specs, timeout):
    """Starts SIPp clients together (each spec: cmd, cwd, stat file) and waits for all."""
    started = []
    t0 = time.time()
    for cmd, cwd, stat in specs:
        p = PROCS.spawn(cmd, cwd)
        started.append((p, cwd, stat, shlex.join(cmd)))
    results = []
    for p, cwd, stat, cmdline in started:
        cpu = wait_rusage(p, t0 + timeout + 30)
        wall = time.time() - t0
        if p in PROCS.children:
            PROCS.children.remove(p)
        r = SippResult(rc=p.returncode, wall=wall, cpu=cpu, stats=sipp_stats(stat), cmd=cmdline)
        for name in os.listdir(cwd):
            full = os.path.join(cwd, name)
            if name.endswith("_errors.log"):
                with open(full, errors="replace") as f:
                    lines = f.readlines()
                r.errors += len(lines)
                if not r.error_sample:
                    r.error_sample = "".join(lines[:6])[:1200]
            elif "_error_codes." in name:
                # Lines "date;elapsed;503,503,...," : the codes of unexpected responses.
                with open(full, errors="replace") as f:
                    for line in f:
                        for code in line.rstrip().split(";")[-1].split(","):
                            if code.strip():
                                r.codes[code.strip()] = r.codes.get(code.strip(), 0) + 1
        results.append(r)
    return results


# ---------------------------------------------------------------------------------------
# Servers


class Server:
    name = "?"

    def __init__(self, args, port, workdir):
        self.args = args
        self.port = port
        self.workdir = workdir
        self.proc = None
        self.cmdline = ""
        self.sampler = None
        self.log_path = os.path.join(workdir, f"{self.name}.log")

    def command(self):
        raise NotImplementedError

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        cmd = self.command()
        self.cmdline = shlex.join(cmd)
        self.logf = open(self.log_path, "w")
        self.proc = PROCS.spawn(cmd, self.workdir, stderr=self.logf, stdout=self.logf)
        if not options_ping(self.port, self.proc):
            raise RuntimeError(f"{self.name} did not answer OPTIONS on 127.0.0.1:{self.port}; "
                               f"see {self.log_path}:\n{self.log_tail()}")
        self.sampler = MemSampler(self.proc.pid, self.args.sample_interval)
        self.sampler.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu(self):
        return group_cpu(self.proc.pid)

    def cpu_split(self):
        """(total, user, system) CPU seconds of the server's processes so far."""
        return group_cpu_split(self.proc.pid)

    def processes(self):
        return len(group_pids(self.proc.pid))

    def peak_rss_kb(self):
        return None

    def stop(self):
        if self.sampler:
            self.sampler.stopped.set()
            self.sampler.join(timeout=5)
        if self.proc:
            self.hwm = self.peak_rss_kb()
            PROCS.stop(self.proc)
            self.logf.close()

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_summary(self):
        """(line count, the most frequent messages) of the server's log."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return 0, []
        counts = {}
        for line in lines:
            key = self.log_key(ANSI.sub("", line))
            if key:
                counts[key] = counts.get(key, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
        return len(lines), top

    def log_key(self, line):
        return line.strip()[:160]


class Sipwire(Server):
    name = "sipwire"

    def command(self):
        return [TOOL.get("sipwire", self.args.sipwire_bin), "serve", "--listen", f"127.0.0.1:{self.port}",
                "--log-level", "warn"] + shlex.split(self.args.sipwire_args)

    def peak_rss_kb(self):
        return status_kb(self.proc.pid, "VmHWM") if self.alive() else None

    def log_key(self, line):
        # Drop the timestamp of tracing's format.
        parts = line.strip().split(None, 1)
        return (parts[1] if len(parts) > 1 else line.strip())[:160]


class Kamailio(Server):
    name = "kamailio"

    def command(self):
        # A copy of the cfg with the ctl socket in our run dir, so several instances (and
        # the interop tests) do not fight over /tmp/kamailio_ctl_sipwire_bench.
        cfg = os.path.join(self.workdir, "kamailio.cfg")
        with open(KAMAILIO_CFG) as f:
            text = f.read()
        text = text.replace("unix:/tmp/kamailio_ctl_sipwire_bench",
                            f"unix:{self.workdir}/kamailio_ctl")
        with open(cfg, "w") as f:
            f.write(text)
        listen = f"127.0.0.1:{self.port}"
        return [TOOL.get("kamailio", self.args.kamailio_bin), "-f", cfg, "-DD", "-E", "-x", "tlsf", "-X", "tlsf",
                "-m", "2048", "-M", "64", "-n", str(self.args.kamailio_children),
                "-l", f"udp:{listen}", "-l", f"tcp:{listen}",
                "-Y", self.workdir, "-P", os.path.join(self.workdir, "kamailio.pid")]

    def log_key(self, line):
        # " 0(123) ERROR: tm [t_reply.c:...]: msg" -> drop the pid prefix.
        s = line.strip()
        if ")" in s[:20]:
            s = s[s.index(")") + 1 :].strip()
        return s[:160]


# ---------------------------------------------------------------------------------------
# Steps


@dataclass
class Step:
    kind: str
    rate: int
    instances: int
    total: int = 0
    created: int = 0
    ok: int = 0
    failed: int = 0
    retrans: int = 0
    wall: float = 0.0
    server_cpu: float = 0.0
    server_user: float = 0.0  # of server_cpu: user time
    server_sys: float = 0.0  # of server_cpu: system (kernel) time
    uac_cpu_max: float = 0.0  # largest share of a core used by one SIPp client
    uas_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy
    other_cores: float = 0.0  # cores busy with neither the server nor SIPp
    call_len_ms: float = 0.0
    rc: list = field(default_factory=list)
    rate_ok: bool = True
    passed: bool = False
    note: str = ""
    errors: str = ""
    codes: dict = field(default_factory=dict)
    cmds: list = field(default_factory=list)
    server_alive: bool = True

    @property
    def fail_ratio(self):
        return (self.total - self.ok) / self.total if self.total else 1.0

    @property
    def cpu_per_1000(self):
        return self.server_cpu / self.ok * 1000 if self.ok else None

    @property
    def user_per_1000(self):
        return self.server_user / self.ok * 1000 if self.ok else None

    @property
    def sys_per_1000(self):
        return self.server_sys / self.ok * 1000 if self.ok else None

    def sipp_saturated(self):
        return self.uac_cpu_max >= SIPP_SATURATED or self.uas_cpu >= SIPP_SATURATED


def parse_ms(text):
    """SIPp's hh:mm:ss:uuuuuu to milliseconds."""
    try:
        h, m, s, us = (int(x) for x in text.split(":"))
        return (h * 3600 + m * 60 + s) * 1000 + us / 1000
    except (ValueError, AttributeError):
        return 0.0


class Bench:
    def __init__(self, args, server, ports, outdir):
        self.args = args
        self.server = server
        self.ports = ports
        self.outdir = outdir
        self.uas = None
        self.steps = {"calls": [], "register": []}
        self.idle_cpu = 0.0

    # -- setup ------------------------------------------------------------------------

    def setup(self):
        s = self.server
        s.start()
        log(f"{s.name}: up on 127.0.0.1:{s.port} ({s.processes()} processes)")
        c0, t0 = s.cpu(), time.time()
        time.sleep(2.0)
        self.idle_cpu = (s.cpu() - c0) / (time.time() - t0)
        d = os.path.join(s.workdir, "setup")
        os.makedirs(d, exist_ok=True)
        callee = self.csv(d, "callee.csv", [f"bob;127.0.0.1:{self.ports['uas']};"])
        cmd = [TOOL["sipp"], f"127.0.0.1:{s.port}", "-sf", SCEN["register.xml"],
               "-inf", callee, "-m", "1", "-p", str(self.ports["reg0"]), *SIPP_COMMON,
               "-trace_screen", "-trace_err", "-timeout", "15s", "-timeout_error"]
        [r] = run_sipp_clients([(cmd, d, os.path.join(d, "stat.csv"))], 20)
        if r.rc != 0:
            raise RuntimeError(f"{s.name}: registering the callee failed (sipp rc {r.rc}) "
                               f"in {d}: {r.error_sample}")
        self.start_uas()

    def start_uas(self):
        d = os.path.join(self.server.workdir, "uas")
        os.makedirs(d, exist_ok=True)
        cmd = [TOOL["sipp"], "-sf", SCEN["uas_rr.xml"], "-p",
               str(self.ports["uas"]), *SIPP_COMMON, "-l", "1000000",
               "-recv_timeout", "60000", "-trace_err", "-max_recv_loops", "10000",
               "-max_sched_loops", "10000"]
        self.uas_cmd = shlex.join(cmd)
        self.uas = PROCS.spawn(cmd, d)
        time.sleep(0.5)
        if self.uas.poll() is not None:
            raise RuntimeError(f"SIPp UAS did not start on port {self.ports['uas']} (see {d})")

    @staticmethod
    def csv(d, name, rows):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write("SEQUENTIAL\n")
            for r in rows:
                f.write(r + "\n")
        return path

    # -- one step ---------------------------------------------------------------------

    def step(self, kind, rate, instances):
        s = self.server
        a = self.args
        duration = a.duration if kind == "calls" else a.reg_duration
        d = os.path.join(s.workdir, f"{kind}-r{rate}-x{instances}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if kind == "calls" and (self.uas is None or self.uas.poll() is not None):
            log(f"{s.name}: SIPp UAS had exited (rc {self.uas.returncode}); restarting it")
            self.start_uas()
        rates = [rate // instances + (1 if i < rate % instances else 0) for i in range(instances)]
        specs = []
        for i, r in enumerate(rates):
            sub = os.path.join(d, f"c{i}")
            os.makedirs(sub)
            m = max(1, int(round(r * duration)))
            if kind == "calls":
                inf = self.csv(sub, "callee.csv", [f"bob;127.0.0.1:{s.port};"])
                sf = "uac_rr.xml"
                port = self.ports["uac0"] + i
                limit = max(50, r)
            else:
                n = a.users
                inf = self.csv(sub, "users.csv", [
                    f"u{i}x{k:06d};127.0.0.1:{self.ports['contact']};" for k in range(n)])
                sf = "register.xml"
                port = self.ports["reg0"] + 1 + i
                limit = max(50, r)
            stat = os.path.join(sub, "stat.csv")
            cmd = [TOOL["sipp"], f"127.0.0.1:{s.port}", "-sf", SCEN[sf],
                   "-inf", inf, "-r", str(r), "-rp", "1000", "-m", str(m), "-l", str(limit),
                   "-p", str(port), *SIPP_COMMON,
                   "-trace_screen", "-trace_err", "-trace_error_codes",
                   "-trace_stat", "-stf", stat, "-fd", "1",
                   "-timeout", f"{int(duration * 2 + 40)}s", "-timeout_error",
                   "-recv_timeout", str(int(UAC_RECV_TIMEOUT_S * 1000)),
                   "-max_recv_loops", "10000", "-max_sched_loops", "10000"]
            specs.append((cmd, sub, stat))
        st = Step(kind, rate, instances)
        st.cmds = [shlex.join(c) for c, _, _ in specs]
        cpu0, user0, sys0 = s.cpu_split()
        uas0 = proc_cpu(self.uas.pid) if kind == "calls" else 0.0
        mb0 = machine_busy()
        s.sampler.phase = kind
        t0 = time.time()
        results = run_sipp_clients(specs, duration * 2 + 40)
        wall = time.time() - t0
        cpu1, user1, sys1 = s.cpu_split() if s.alive() else (cpu0, user0, sys0)
        uas1 = proc_cpu(self.uas.pid) if kind == "calls" else 0.0
        mb1 = machine_busy()
        st.server_alive = s.alive()
        st.wall = wall
        st.server_cpu = cpu1 - cpu0
        st.server_user = user1 - user0
        st.server_sys = sys1 - sys0
        st.uas_cpu = (uas1 - uas0) / wall
        st.uac_cpu_max = max(r.cpu / r.wall for r in results)
        busy = (mb1[0] - mb0[0]) / max(1, mb1[1] - mb0[1])
        st.machine_busy = busy
        sipp_cores = sum(r.cpu for r in results) / wall + st.uas_cpu
        st.other_cores = max(0.0, busy * NCPU - st.server_cpu / wall - sipp_cores)
        for spec, r in zip(specs, results):
            m = int(spec[0][spec[0].index("-m") + 1])
            st.total += m
            st.created += num(r.stats, "TotalCallCreated")
            st.ok += num(r.stats, "SuccessfulCall(C)")
            st.failed += num(r.stats, "FailedCall(C)")
            st.retrans += num(r.stats, "Retransmissions(C)")
            st.rc.append(r.rc)
            if r.errors and not st.errors:
                st.errors = r.error_sample.strip()
            for code, n in r.codes.items():
                st.codes[code] = st.codes.get(code, 0) + n
        lens = [parse_ms(r.stats.get("CallLength(C)")) for r in results if r.stats]
        st.call_len_ms = sum(lens) / len(lens) if lens else 0.0
        slack = max(1.0, 0.05 * duration) + (0.5 if kind == "calls" else 0.2)
        # A call that loses a message waits out SIPp's 10 s receive timeout (-recv_timeout)
        # before it counts as failed, and SIPp ends only after it: that stretches the wall
        # time without the rate having dropped. Such calls are judged by the failure limit.
        if st.failed:
            slack += UAC_RECV_TIMEOUT_S
        st.rate_ok = wall <= duration + slack and st.created >= st.total
        incomplete = st.total - st.ok - st.failed
        st.passed = st.server_alive and st.rate_ok and st.fail_ratio < FAIL_LIMIT
        notes = []
        if not st.server_alive:
            notes.append(f"SERVER DIED (rc {s.proc.returncode})")
        if st.failed:
            notes.append(f"{st.failed} failed")
        if incomplete > 0:
            notes.append(f"{incomplete} not completed")
        if st.codes:
            notes.append("unexpected responses " + ", ".join(
                f"{c}x{n}" for c, n in sorted(st.codes.items(), key=lambda kv: -kv[1])))
        if not st.rate_ok:
            notes.append(f"rate not kept ({st.created / max(wall, 1e-3):.0f}/s over {wall:.1f} s)")
        if any(rc not in (0, 1) for rc in st.rc):
            notes.append(f"sipp rc {st.rc}")
        if st.sipp_saturated():
            notes.append("SIPp saturated")
        st.note = "; ".join(notes)
        self.steps[kind].append(st)
        log(f"{s.name} {kind:8} rate {rate:>6}/s x{instances}: {st.ok}/{st.total} ok, "
            f"{st.failed} failed, {st.retrans} retrans, wall {wall:.1f}s, server "
            f"{st.server_cpu / wall * 100:.0f}% core (CPU s/1k {fmt(st.cpu_per_1000, '.3f')}: "
            f"user {fmt(st.user_per_1000, '.3f')} sys {fmt(st.sys_per_1000, '.3f')}), uac {st.uac_cpu_max * 100:.0f}%, uas "
            f"{st.uas_cpu * 100:.0f}%, machine {busy * 100:.0f}% busy -> "
            f"{'PASS' if st.passed else 'FAIL'} {st.note}")
        # Let retransmissions and the server's timers of this step die down.
        time.sleep(self.args.settle if st.passed else self.args.settle * 2)
        return st

    # -- search -----------------------------------------------------------------------

    def search(self, kind, start):
        a = self.args
        instances = a.uac_instances
        lo = hi = None
        tried = {}

        def run(rate):
            nonlocal instances
            st = self.step(kind, rate, instances)
            # SIPp was the limit: try again with the load spread over more SIPp clients.
            while (not st.passed and st.server_alive and st.uac_cpu_max >= SIPP_SATURATED
                   and instances * 2 <= a.max_uac_instances):
                instances *= 2
                log(f"{self.server.name}: a SIPp client used {st.uac_cpu_max * 100:.0f}% of "
                    f"a core; retrying {rate}/s with {instances} SIPp clients")
                st = self.step(kind, rate, instances)
            # One stall (a lost datagram and SIPp's 10 s receive timeout) should not decide
            # a server's maximum: a failed step is run once more, for both servers alike.
            if not st.passed and st.server_alive and a.retries > 0:
                log(f"{self.server.name}: {rate}/s failed ({st.note}); running it once more")
                st = self.step(kind, rate, instances)
            tried[rate] = st
            return st

        rate = start
        while True:
            st = run(rate)
            if not st.server_alive:
                return None, rate
            if st.passed:
                lo = rate
                if rate >= a.max_rate:
                    break
                rate = min(rate * 2, a.max_rate)
            else:
                hi = rate
                break
        if lo is None:
            rate = start // 2
            while rate >= 5:
                st = run(rate)
                if not st.server_alive:
                    return None, rate
                if st.passed:
                    lo = rate
                    break
                hi = rate
                rate //= 2
        for _ in range(a.bisect):
            if lo is None or hi is None or hi - lo <= max(10, lo * 0.06):
                break
            mid = nice((lo + hi) / 2)
            if mid in tried or mid <= lo or mid >= hi:
                break
            st = run(mid)
            if not st.server_alive:
                break
            if st.passed:
                lo = mid
            else:
                hi = mid
        return lo, hi

    def run(self):
        a = self.args
        self.setup()
        self.calls_max = self.calls_hi = None
        self.reg_max = self.reg_hi = None
        if "calls" in a.tests:
            log(f"{self.server.name}: call-rate search from {a.start_rate}/s, {a.duration:g} s "
                f"per step, up to {a.max_rate}/s")
            self.calls_max, self.calls_hi = self.search("calls", a.start_rate)
        self.mem_calls = self.server.sampler.peaks.get("calls", (0, 0, 0))
        if "register" in a.tests and self.server.alive():
            log(f"{self.server.name}: REGISTER search from {a.start_reg_rate}/s, "
                f"{a.reg_duration:g} s per step, {a.users} users per SIPp client")
            self.reg_max, self.reg_hi = self.search("register", a.start_reg_rate)
        self.server.sampler.sample()
        self.mem = self.server.sampler.peak()
        self.log_lines, self.log_top = self.server.log_summary()

    def final_steps(self, kind):
        """The last step run at each rate (a retry with more SIPp clients replaces one)."""
        return list({st.rate: st for st in self.steps[kind]}.values())

    def passed(self, kind):
        return {st.rate: st for st in self.final_steps(kind) if st.passed}

    def first_failure(self, kind):
        fails = [st for st in self.final_steps(kind) if not st.passed]
        return min(fails, key=lambda st: st.rate) if fails else None


def nice(x):
    step = 10 if x >= 100 else 5
    return max(step, int(round(x / step)) * step)


# ---------------------------------------------------------------------------------------
# Report


def fmt(v, spec=".2f", none="–"):
    return none if v is None else format(v, spec)


def mib(kb):
    return None if kb is None else kb / 1024


def limit_text(b, kind):
    """What stopped the rate from going higher."""
    f = b.first_failure(kind)
    if f is None:
        return "nothing within --max-rate" if b.steps[kind] else "not run"
    if not f.server_alive:
        return f"server died at {f.rate}/s"
    who = []
    srv = f"server {f.server_cpu / f.wall * 100:.0f}% of a core"
    refused = {c: n for c, n in f.codes.items() if c.isdigit() and int(c) >= 400}
    if refused:
        who.append("the server answered " + ", ".join(
            f"{c} x{n}" for c, n in sorted(refused.items(), key=lambda kv: -kv[1])) + f" ({srv})")
    if f.uac_cpu_max >= SIPP_SATURATED:
        who.append(f"SIPp UAC at {f.uac_cpu_max * 100:.0f}% of a core")
    if f.uas_cpu >= SIPP_SATURATED:
        who.append(f"SIPp UAS at {f.uas_cpu * 100:.0f}% of a core")
    if f.machine_busy >= 0.95:
        who.append(f"all {NCPU} cores busy (server {f.server_cpu / f.wall:.2f}, "
                   f"other load {f.other_cores:.2f} cores)")
    if not who:
        who.append(f"the server ({srv}; lost or late messages with CPU to spare)")
    elif not refused:
        who.append(srv)
    return f"at {f.rate}/s: " + ", ".join(who)


def sipp_limit(b):
    """Whether SIPp itself was the limit, from the steps near and at the failure."""
    out = []
    for kind in ("calls", "register"):
        steps = b.steps[kind]
        if not steps:
            continue
        worst_uac = max(steps, key=lambda s: s.uac_cpu_max)
        worst_uas = max(steps, key=lambda s: s.uas_cpu)
        f = b.first_failure(kind)
        sat = f is not None and f.sipp_saturated()
        out.append(f"{kind}: {'YES' if sat else 'no'} (peak UAC {worst_uac.uac_cpu_max * 100:.0f}% "
                   f"at {worst_uac.rate}/s" + (f", UAS {worst_uas.uas_cpu * 100:.0f}%"
                                               if kind == "calls" else "") + ")")
    return "; ".join(out)


def step_table(steps, unit):
    rows = [f"| rate/s | SIPp | {unit} | ok | failed | retrans | wall s | server CPU s | "
            f"CPU s/1k | user s/1k | sys s/1k | server %core | UAC %core | UAS %core | machine busy | "
            f"other cores | avg len ms | verdict |",
            "|" + "---|" * 18]
    for s in steps:
        rows.append(
            f"| {s.rate} | x{s.instances} | {s.total} | {s.ok} | {s.total - s.ok} | {s.retrans} | "
            f"{s.wall:.1f} | {s.server_cpu:.2f} | {fmt(s.cpu_per_1000, '.3f')} | "
            f"{fmt(s.user_per_1000, '.3f')} | {fmt(s.sys_per_1000, '.3f')} | "
            f"{s.server_cpu / s.wall * 100:.0f}% | {s.uac_cpu_max * 100:.0f}% | "
            f"{s.uas_cpu * 100:.0f}% | {s.machine_busy * 100:.0f}% | {s.other_cores:.2f} | "
            f"{s.call_len_ms:.0f} | {'PASS' if s.passed else 'FAIL'}"
            f"{' (' + s.note + ')' if s.note else ''} |")
    return "\n".join(rows)


def report(benches, args, outdir, missing_note, started):
    L = []
    L.append("# sipwire vs Kamailio: SIPp load benchmark\n")
    L.append(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S')}; run time {time.time() - started:.0f} s; "
             f"host: {NCPU} CPUs, load average at start {args.loadavg}")
    L.append(f"- SIPp: {args.sipp_version}; steps of {args.duration:g} s (calls) and "
             f"{args.reg_duration:g} s (REGISTER); a step passes with < 0.1% failed or "
             f"uncompleted calls and the rate kept; doubling from {args.start_rate}/s "
             f"(REGISTER {args.start_reg_rate}/s) up to {args.max_rate}/s, then "
             f"{args.bisect} bisection steps")
    L.append(f"- call: INVITE (SDP) -> 180 -> 200 -> ACK, 100 ms, BYE -> 200, via the server "
             f"with Record-Route (uac_rr.xml -> server -> uas_rr.xml); REGISTER: "
             f"register.xml over {args.users} distinct users per SIPp client")
    L.append("- scenarios: tests/interop/sipp/{uac_rr,uas_rr,register}.xml, copied with the "
             "optional 100/180 (UAC) and ACK (UAS) recvs made optional=\"global\", so a "
             "provisional response or ACK overtaken by the next message (UDP, several server "
             "workers) is not counted as a failed call")
    L.append("- programs run through symlinks (so other scripts' `pkill sipp` and the like "
             "leave them alone): " + ", ".join(
                 f"{os.path.basename(v)} -> {os.path.realpath(v)}" for v in TOOL.values()))
    L.append(f"- output directory (logs, SIPp traces, commands.log): {outdir}")
    if missing_note:
        L.append(f"- **{missing_note}**")
    L.append("")
    for b in benches:
        s = b.server
        L.append(f"## {s.name}\n")
        L.append(f"Server command: `{s.cmdline}`  ")
        L.append(f"SIPp UAS: `{b.uas_cmd}`  ")
        for kind in ("calls", "register"):
            st = b.passed(kind)
            best = st[max(st)] if st else (b.steps[kind][-1] if b.steps[kind] else None)
            if best:
                L.append(f"SIPp {kind} at {best.rate}/s: `{' ; '.join(best.cmds)}`  ")
        L.append(f"Idle CPU: {b.idle_cpu * 100:.1f}% of a core. Processes: {s.processes() if s.alive() else b.mem[2]}.\n")
        if b.steps["calls"]:
            L.append("Calls:\n")
            L.append(step_table(b.steps["calls"], "calls"))
            L.append("")
        if b.steps["register"]:
            L.append("REGISTER:\n")
            L.append(step_table(b.steps["register"], "REGISTERs"))
            L.append("")
        bad = [st for k in ("calls", "register") for st in b.steps[k] if st.errors]
        if bad:
            L.append(f"First SIPp errors (at {bad[0].kind} {bad[0].rate}/s):\n")
            L.append("```\n" + bad[0].errors[:1500] + "\n```\n")
        L.append(f"Server log ({s.log_path}): {b.log_lines} lines" +
                 (", most frequent:" if b.log_top else "."))
        if b.log_top:
            L.append("```")
            for msg, n in b.log_top:
                L.append(f"{n:>7} x {msg}")
            L.append("```")
        L.append("")

    # Common rate: the highest call rate every measured server passed.
    common = None
    if benches and all(b.passed("calls") for b in benches):
        rates = set.intersection(*(set(b.passed("calls")) for b in benches))
        common = max(rates) if rates else None

    def col(b):
        s = b.server
        p = b.passed("calls")
        r = b.passed("register")
        cmax = b.calls_max
        cmax_txt = "–" if cmax is None else (f"≥ {cmax}" if b.first_failure("calls") is None
                                              else f"{cmax}")
        if b.calls_hi and cmax is not None and b.first_failure("calls") is not None:
            cmax_txt += f" (fails at {b.first_failure('calls').rate})"
        rmax_txt = "–" if b.reg_max is None else (f"≥ {b.reg_max}" if b.first_failure("register") is None
                                                  else f"{b.reg_max}")
        if b.reg_max is not None and b.first_failure("register") is not None:
            rmax_txt += f" (fails at {b.first_failure('register').rate})"
        pss, rss, nproc = b.mem
        if isinstance(s, Sipwire):
            hwm = getattr(s, "hwm", None)
            mem_txt = f"{fmt(mib(hwm or rss), '.1f')} MiB RSS (PSS {fmt(mib(pss), '.1f')})"
            memc = f"{fmt(mib(b.mem_calls[1]), '.1f')} MiB RSS"
        else:
            mem_txt = (f"{fmt(mib(pss), '.1f')} MiB PSS sum over {nproc} procs "
                       f"(RSS sum {fmt(mib(rss), '.1f')})")
            memc = f"{fmt(mib(b.mem_calls[0]), '.1f')} MiB PSS sum"
        return {
            "max_calls": cmax_txt,
            "cpu_common": fmt(p[common].cpu_per_1000, ".3f") if common in p else "–",
            "cpu_max": (f"{p[cmax].cpu_per_1000:.3f} (at {cmax}/s)" if cmax in p else "–"),
            "srv_core_max": (f"{p[cmax].server_cpu / p[cmax].wall * 100:.0f}%" if cmax in p else "–"),
            "mem": mem_txt,
            "mem_calls": memc,
            "max_reg": rmax_txt,
            "cpu_reg": (f"{r[b.reg_max].cpu_per_1000:.3f} (at {b.reg_max}/s)"
                        if b.reg_max in r else "–"),
            "limit_calls": limit_text(b, "calls"),
            "limit_reg": limit_text(b, "register"),
            "sipp": sipp_limit(b),
            "idle": f"{b.idle_cpu * 100:.1f}%",
        }

    cols = [col(b) for b in benches]
    names = [b.server.name for b in benches]
    rows = [
        ("Max call rate, calls/s (< 0.1% failed)", "max_calls"),
        (f"Server CPU s per 1,000 calls at the common rate ({common}/s)" if common else
         "Server CPU s per 1,000 calls at a common rate", "cpu_common"),
        ("Server CPU s per 1,000 calls at its max rate", "cpu_max"),
        ("Server CPU at its max call rate (% of one core)", "srv_core_max"),
        ("Peak memory, whole run (sipwire: RSS of its process; Kamailio: PSS summed "
         "over its processes, sampled)", "mem"),
        ("Peak memory during the call test", "mem_calls"),
        ("Max REGISTER rate, transactions/s (< 0.1% failed)", "max_reg"),
        ("Server CPU s per 1,000 REGISTERs at its max rate", "cpu_reg"),
        ("Idle CPU (% of a core)", "idle"),
        ("What stopped the call rate", "limit_calls"),
        ("What stopped the REGISTER rate", "limit_reg"),
        ("SIPp the limit? (a SIPp process ≥ 85% of a core at the first failing step)", "sipp"),
    ]
    L.append("## Summary\n")
    L.append("| | " + " | ".join(names) + " |")
    L.append("|---|" + "---|" * len(names))
    for label, key in rows:
        L.append(f"| {label} | " + " | ".join(c[key].replace("|", "/") for c in cols) + " |")
    L.append("")
    by = {b.server.name: b for b in benches}
    if "sipwire" in by and "kamailio" in by:
        sw, km = by["sipwire"], by["kamailio"]
        L.append("Ratios sipwire / Kamailio:\n")

        def ratio(x, y):
            return f"{x / y:.2f}" if x is not None and y else "–"

        ps, pk = sw.passed("calls"), km.passed("calls")
        L.append(f"- CPU per call at the common rate {common}/s: "
                 f"{ratio(ps[common].cpu_per_1000 if common in ps else None, pk[common].cpu_per_1000 if common in pk else None)}"
                 " (below 1: sipwire uses less CPU per call)")
        L.append(f"- CPU per call at each one's max rate: "
                 f"{ratio(ps[sw.calls_max].cpu_per_1000 if sw.calls_max in ps else None, pk[km.calls_max].cpu_per_1000 if km.calls_max in pk else None)}")
        L.append(f"- max call rate: {ratio(sw.calls_max, km.calls_max)} (above 1: sipwire sustains more)")
        L.append(f"- max REGISTER rate: {ratio(sw.reg_max, km.reg_max)}")
        L.append(f"- peak memory (sipwire RSS / Kamailio PSS sum): "
                 f"{ratio(getattr(sw.server, 'hwm', None) or sw.mem[1], km.mem[0])}")
        L.append("")
    L.append("Notes: CPU is utime+stime of the server's process group from /proc (threads and "
             "reaped children included) over each step, from the first call to SIPp's exit; "
             "timer work the server does after a step (transaction state lingering for Timer "
             "J/K/D) may fall into the next step's pause and is not counted. Everything — "
             "server, SIPp UAC and UAS, this script — shares the same "
             f"{NCPU} CPUs, and 'other cores' is load from elsewhere on the machine, so the "
             "absolute numbers are as noisy as the machine is busy; a max rate reached with "
             "SIPp saturated or all cores busy is a lower bound for the server.")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run of about a minute: short steps, low max rate, no bisection")
    ap.add_argument("--duration", type=float, help="seconds per call-rate step (default 10)")
    ap.add_argument("--reg-duration", type=float, help="seconds per REGISTER step (default 5)")
    ap.add_argument("--start-rate", type=int, help="first call rate, calls/s (default 100)")
    ap.add_argument("--start-reg-rate", type=int, help="first REGISTER rate /s (default 200)")
    ap.add_argument("--max-rate", type=int, help="highest rate tried (default 12800)")
    ap.add_argument("--bisect", type=int, help="bisection steps after the doubling (default 3)")
    ap.add_argument("--retries", type=int, default=1,
                    help="run a failed step once more before it counts (default 1; 0 disables)")
    ap.add_argument("--only", choices=["sipwire", "kamailio"], help="measure one server")
    ap.add_argument("--tests", default="calls,register",
                    help="comma-separated: calls, register (default both)")
    ap.add_argument("--sipwire-bin", help="the sipwire binary (default: $SIPWIRE_BIN, else "
                    "$CARGO_TARGET_DIR or target/ release/sipwire)")
    ap.add_argument("--sipwire-args", default="", help='extra arguments to `sipwire serve`, '
                    'e.g. "--workers 2"')
    ap.add_argument("--build", action="store_true",
                    help="cargo build --release -p sipwire first")
    ap.add_argument("--kamailio-bin", default="kamailio")
    ap.add_argument("--kamailio-children", type=int, default=2, help="kamailio -n (default 2)")
    ap.add_argument("--users", type=int, default=10000,
                    help="distinct users per SIPp client in the REGISTER test (default 10000)")
    ap.add_argument("--uac-instances", type=int, default=1,
                    help="SIPp clients sharing the load (default 1)")
    ap.add_argument("--max-uac-instances", type=int, default=2,
                    help="when a SIPp client saturates a core at a failing step, retry with "
                    "twice the clients, up to this many (default 2; 1 disables)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between steps (default 2)")
    ap.add_argument("--sample-interval", type=float, default=0.5,
                    help="memory sampling period, s (default 0.5)")
    ap.add_argument("--base-port", type=int, default=15060,
                    help="ports used: sipwire from here, kamailio from here+100 (default 15060)")
    ap.add_argument("--out", help="output directory (default: a new /tmp/sipwire-bench-*)")
    args = ap.parse_args()

    q = args.quick
    defaults = dict(duration=3 if q else 10, reg_duration=2 if q else 5,
                    start_rate=100, start_reg_rate=200 if q else 400,
                    max_rate=400 if q else 12800, bisect=0 if q else 3)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if q:
        args.settle = min(args.settle, 1.0)
        args.users = min(args.users, 2000)
    args.tests = [t.strip() for t in args.tests.split(",") if t.strip()]

    started = time.time()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    atexit.register(PROCS.stop_all)

    if not shutil.which("sipp"):
        sys.exit("sipp (package sip-tester) is not installed")
    out = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    args.sipp_version = next((l.strip() for l in out.splitlines() if l.strip()), "?")
    with open("/proc/loadavg") as f:
        args.loadavg = " ".join(f.read().split()[:3])

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    if args.build:
        cmd = ["cargo", "build", "--release", "-p", "sipwire"]
        log("building: " + shlex.join(cmd))
        subprocess.run(cmd, cwd=REPO, check=True)
    if not args.sipwire_bin:
        args.sipwire_bin = os.environ.get("SIPWIRE_BIN") or os.path.join(target, "release", "sipwire")
    want = ["sipwire", "kamailio"] if not args.only else [args.only]
    missing_note = ""
    if "sipwire" in want and not os.access(args.sipwire_bin, os.X_OK):
        sys.exit(f"no sipwire binary at {args.sipwire_bin}: build it (CARGO_TARGET_DIR=... cargo "
                 f"build --release -p sipwire), or pass --build or --sipwire-bin")
    if "kamailio" in want and not shutil.which(args.kamailio_bin):
        missing_note = f"{args.kamailio_bin} is not installed: only sipwire was measured"
        log(missing_note)
        want.remove("kamailio")
        if not want:
            sys.exit(missing_note.replace("only sipwire was measured", "nothing to measure"))

    outdir = args.out or f"/tmp/sipwire-bench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    os.makedirs(outdir, exist_ok=True)
    PROCS.cmdlog = os.path.join(outdir, "commands.log")
    SCEN.update(scenario_copies(outdir))
    TOOL.update(aliases(outdir, args))

    benches = []
    try:
        for i, name in enumerate(["sipwire", "kamailio"]):
            if name not in want:
                continue
            base = args.base_port + 100 * i
            ports = {"server": base, "uas": base + 10, "contact": base + 11,
                     "uac0": base + 20, "reg0": base + 40}
            needed = [base, base + 10, base + 40] + \
                [base + 20 + k for k in range(args.max_uac_instances)] + \
                [base + 41 + k for k in range(args.max_uac_instances)]
            busy = [p for p in needed if not port_free(p)]
            if busy:
                raise RuntimeError(f"ports in use: {busy}; pick others with --base-port")
            cls = Sipwire if name == "sipwire" else Kamailio
            server = cls(args, base, os.path.join(outdir, name))
            b = Bench(args, server, ports, outdir)
            benches.append(b)
            try:
                b.run()
            finally:
                if b.uas:
                    PROCS.stop(b.uas)
                server.stop()
                log(f"{name}: stopped")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        PROCS.stop_all()
        benches = [b for b in benches if b.steps["calls"] or b.steps["register"]]
        if not benches:
            sys.exit(130)
        for b in benches:  # partial results
            for attr in ("calls_max", "calls_hi", "reg_max", "reg_hi"):
                if not hasattr(b, attr):
                    setattr(b, attr, None)
            if not hasattr(b, "mem"):
                b.mem = b.server.sampler.peak() if b.server.sampler else (0, 0, 0)
                b.mem_calls = b.mem
                b.log_lines, b.log_top = b.server.log_summary()
        missing_note = (missing_note + "; " if missing_note else "") + "INTERRUPTED: partial results"
    finally:
        PROCS.stop_all()

    text = report(benches, args, outdir, missing_note, started)
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    log(f"report: {os.path.join(outdir, 'report.md')}; commands: {PROCS.cmdlog}")


if __name__ == "__main__":
    main()
