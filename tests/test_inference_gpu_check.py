"""The GPU check script exits cleanly, saying so, on a machine without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_without_a_gpu_says_there_is_nothing_to_check():
    env = {**os.environ, "TRIGGER_NO_GPU": "1"}  # the no-GPU path, even on a GPU machine
    done = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--sizes", "1000"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no NVIDIA GPU visible" in done.stdout and "nothing to check" in done.stdout
