"""The receiver killed with SIGKILL under load and restarted on the same port.

Whatever the killed receiver had not answered ``OK`` (refused connections,
requests cut off mid-answer) Stripay delivers again on its retry schedule;
whatever it had remembered and enqueued before dying is a duplicate then, and
its job runs once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.proof.harness import Stack, report

# Stripay's retries compressed 500 times: attempts at 0, 1.2, 4.8, 12 and 185 s,
# so a receiver back within 12 s is reached by the 4th attempt at the latest.
TIME_SCALE = 500
KILLS_AT = (0.15, 0.35, 0.55, 0.75, 0.9)


@pytest.mark.slow
def test_receiver_killed_under_load_loses_nothing(log_dir: Path) -> None:
    with Stack("receiver SIGKILL", log_dir, time_scale=TIME_SCALE) as stack:
        stack.start_pool()
        work = stack.workload(500, steps_per_s=50).start()
        for share in KILLS_AT:
            work.wait_progress(share)
            stack.restart_receiver(kill=True)
        work.join()
        timings = stack.recover()
        verdict = stack.verdict(work)
        refused = verdict.sent - verdict.acknowledged
        report(verdict, receiver_kills=len(KILLS_AT), attempts_not_acknowledged=refused, **timings)
    assert refused > 0, "no delivery attempt met a dead receiver: the kills proved nothing"
