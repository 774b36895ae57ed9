"""Run Locust-importing code in a subprocess: importing Locust monkey-patches the
interpreter with gevent, which the test process must not be."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.loadtests.test_catalog import _snapshot_data

ROOT = Path(__file__).resolve().parents[2]


def locust_python(code: str, tmp_path: Path, **env: str) -> object:
    """Run `code` beside a catalog snapshot; return the JSON its last line prints."""
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(_snapshot_data()))
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PEAKSTORE_CATALOG_SNAPSHOT": str(snapshot),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])
