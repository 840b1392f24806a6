"""Run child processes and restart the ones that die, with backoff.

`runexchange` runs the embedded exchange's processes as children of one
command. A child that exits is started again after a delay that doubles from
0.5 s up to 10 s, and starts again at 0.5 s once the child has stayed up 30 s.
A child that dies 5 times within 60 s will not get better by retrying: the
supervisor stops every child and raises `GaveUp`. `stop()` (the command calls
it on SIGINT/SIGTERM) sends SIGTERM to every child, gives them 10 s in all,
then kills the rest.

Hand-written rather than supervisord, honcho or circus: it must run inside the
one `make run` command, wherever Python runs, with no extra daemon or config
file. Production runs each piece under a real process manager (README).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    healthy_after_s: float = 30.0  # an uptime this long resets the delay
    max_deaths: int = 5  # this many deaths within window_s: give up
    window_s: float = 60.0


@dataclass(frozen=True)
class Child:
    name: str
    argv: Sequence[str]
    policy: RestartPolicy = field(default_factory=RestartPolicy)


class GaveUp(Exception):
    """A child died too often; every child has been stopped."""


class Restarts:
    """One child's restart bookkeeping. Pure: the clock comes in as ``now``."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.deaths: deque[float] = deque()
        self.next_delay_s = policy.first_delay_s
        self.started_at = 0.0

    def started(self, now: float) -> None:
        self.started_at = now

    def died(self, now: float) -> float | None:
        """Seconds to wait before restarting a child that died at ``now``, or
        None when it died ``max_deaths`` times within ``window_s``."""
        p = self.policy
        self.deaths.append(now)
        while self.deaths[0] <= now - p.window_s:
            self.deaths.popleft()
        if len(self.deaths) >= p.max_deaths:
            return None
        if now - self.started_at >= p.healthy_after_s:
            self.next_delay_s = p.first_delay_s
        delay = self.next_delay_s
        self.next_delay_s = min(delay * 2, p.max_delay_s)
        return delay


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        *,
        log: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = 0.2,
        grace_s: float = 10.0,
    ) -> None:
        self.children = list(children)
        self.log = log
        self.clock = clock
        self.tick_s = tick_s
        self.grace_s = grace_s
        self.stopping = False
        self.procs: dict[str, subprocess.Popen[bytes] | None] = {}
        self.restarts = {c.name: Restarts(c.policy) for c in self.children}
        self.due: dict[str, float] = {}  # name -> when a dead child restarts

    def stop(self) -> None:
        """Ask `run` to stop every child and return (safe in a signal handler)."""
        self.stopping = True

    def run(self) -> None:
        """Start the children and keep them running until `stop`; raises
        `GaveUp` (after stopping them all) when one dies too often."""
        try:
            for child in self.children:
                self.start(child)
            while not self.stopping:
                for child in self.children:
                    self.check(child, self.clock())
                time.sleep(self.tick_s)
        finally:
            self.terminate_all()

    def start(self, child: Child) -> subprocess.Popen[bytes]:
        proc = self.procs[child.name] = subprocess.Popen(child.argv)
        self.restarts[child.name].started(self.clock())
        return proc

    def check(self, child: Child, now: float) -> None:
        if self.stopping:  # Ctrl-C reaches the children too: no restart logs
            return
        proc = self.procs[child.name]
        if proc is None:
            if now >= self.due[child.name]:
                pid = self.start(child).pid
                self.log(f"restarted {child.name} (pid {pid})")
            return
        if proc.poll() is None:
            return
        how = describe_exit(proc.returncode)
        delay = self.restarts[child.name].died(now)
        if delay is None:
            p = child.policy
            raise GaveUp(
                f"{child.name} died {p.max_deaths} times within {p.window_s:g} s "
                f"(last: {how}); stopped the exchange"
            )
        self.log(f"{child.name} exited ({how}); restarting it in {delay:g} s")
        self.procs[child.name] = None
        self.due[child.name] = now + delay

    def terminate_all(self) -> None:
        running = [p for p in self.procs.values() if p and p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
