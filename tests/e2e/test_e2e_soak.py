"""A short soak, with real processes: ``bench/soak.py`` runs one instance (``benevalibre serve`` with its worker,
SQLite) for 40 s under a steady mix of page views by logged-in people, signed activities from a peer server and
entries logged through the form. Every request gets the answer it should (no 5xx, no request left unanswered,
no error at all, so none that grows), the server's memory does not grow past a generous bound between the first
and the last third of the run, and the worker clears its backlog once the traffic stops.

The long run (10 minutes, figures in docs/reliability.md) is ``.venv/bin/python bench/soak.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATION = 40


def test_a_short_soak_keeps_answering_with_stable_memory(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    command = [sys.executable, str(ROOT / "bench" / "soak.py"), "--duration", str(DURATION), "--warmup", "5"]
    done = subprocess.run(  # noqa: S603 (our own command line)
        [*command, "--sample", "2", "--json", str(figures)], cwd=ROOT, capture_output=True, timeout=300, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"the soak failed:\n{done.stdout.decode()[-3000:]}\n{done.stderr.decode()[-3000:]}")
    result = json.loads(figures.read_text())
    summary = done.stdout.decode()

    assert result["requests"] > DURATION * 10, summary  # the traffic ran: 12 requests a second are scheduled
    assert result["server_errors"] == 0 and result["no_answer"] == 0, summary
    assert result["errors"] == 0, (result["unexpected"], summary)
    assert result["web_alive"], summary
    # memory: the last third of the run holds no more than the first one plus a generous margin
    first, last = result["rss_first_third_mib"], result["rss_last_third_mib"]
    assert first > 0 and last <= first * 1.25 + 16, summary
    # the worker kept up: once the traffic stopped, nothing was left waiting
    assert result["left_after_drain"] == [0, 0], summary
