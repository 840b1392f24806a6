"""runexchange's supervisor: the restart policy as pure logic, then the loop."""

from __future__ import annotations

import signal
import sys
import threading

import pytest

from apps.core.supervise import (
    Child,
    GaveUp,
    RestartPolicy,
    Restarts,
    Supervisor,
    describe_exit,
)


def test_restart_delay_doubles_from_half_a_second_up_to_ten():
    restarts = Restarts(RestartPolicy(max_deaths=100))
    delays = []
    now = 0.0
    for _ in range(7):
        restarts.started(now)
        now += 1.0  # dies after a second, well short of healthy
        delays.append(restarts.died(now))
    assert delays == [0.5, 1, 2, 4, 8, 10, 10]


def test_restart_delay_resets_after_thirty_seconds_up():
    restarts = Restarts(RestartPolicy())
    restarts.started(0.0)
    assert restarts.died(1.0) == 0.5
    restarts.started(1.5)
    assert restarts.died(2.0) == 1
    restarts.started(3.0)
    assert restarts.died(33.0) == 0.5


def test_gives_up_on_the_fifth_death_within_sixty_seconds():
    restarts = Restarts(RestartPolicy())
    answers = []
    for now in (0.0, 10.0, 20.0, 30.0, 40.0):
        restarts.started(now - 5)
        answers.append(restarts.died(now))
    assert answers[:4] == [0.5, 1, 2, 4] and answers[4] is None


def test_deaths_older_than_the_window_are_forgotten():
    restarts = Restarts(RestartPolicy())
    for now in (0.0, 20.0, 40.0, 60.0, 80.0, 100.0):
        restarts.started(now - 5)
        assert restarts.died(now) is not None  # never 5 within 60 s


def test_describe_exit_names_the_signal_or_the_code():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_supervisor_restarts_a_dying_child_then_gives_up_and_says_which():
    fast = RestartPolicy(first_delay_s=0.01, max_delay_s=0.01, max_deaths=3)
    crash = Child("crasher", [sys.executable, "-c", "raise SystemExit(7)"], fast)
    lines: list[str] = []
    supervisor = Supervisor([crash], log=lines.append, tick_s=0.01)
    with pytest.raises(
        GaveUp, match=r"crasher died 3 times within 60 s \(last: exit code 7\)"
    ):
        supervisor.run()
    assert lines[0] == "crasher exited (exit code 7); restarting it in 0.01 s"
    assert lines[1].startswith("restarted crasher (pid ")
    assert len(lines) == 4


def test_stop_terminates_every_child_and_returns():
    sleeper = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([sleeper], log=print, tick_s=0.01)
    threading.Timer(0.2, supervisor.stop).start()
    supervisor.run()
    assert supervisor.procs["sleeper"].returncode == -signal.SIGTERM
