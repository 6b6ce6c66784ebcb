"""What the benchmark scripts share: running one phase in a fresh process and measuring it."""

from __future__ import annotations

import json
import subprocess
import sys
import time


def run_phase(code: str) -> dict:
    """Run ``code`` (which sets ``RESULT``, a JSON-able dict) in a fresh Python process.

    Returns its wall time (``seconds``), peak resident memory (``peak_mib``) and ``RESULT``;
    exits with the phase's error output when it fails.
    """
    wrapped = code + "\nimport resource, json as _j\nprint('@@' + _j.dumps({'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **RESULT}))"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"phase failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("@@"))
    return {"seconds": round(time.perf_counter() - started, 1), **json.loads(line[2:])}
