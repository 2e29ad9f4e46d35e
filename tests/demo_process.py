"""Start `crmbot demo` as a user would (a subprocess on a free loopback port with its own SQLite file
and working directory) for the demo and browser tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_demo(tmp_path: Path, extra_env: dict[str, str] | None = None,
               args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """`args`: more `crmbot demo` options, e.g. ("--start", "2026-12-01T09:30+08:00")."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMBOT_", "WECOM_", "DINGTALK_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra_env or {})
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "crmbot.cli", "demo", "--host", "127.0.0.1",
                             "--port", str(port), "--db", str(tmp_path / "demo.db"), *args],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        if proc.poll() is not None:
            raise AssertionError(f"crmbot demo exited: {(tmp_path / 'demo.log').read_text()[-2000:]}")
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, 90, "crmbot demo /healthz")
    except BaseException:
        stop_demo(proc)
        raise
    return proc, base


def stop_demo(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def running_demo(tmp_path: Path, *args: str):
    """`crmbot demo [ARGS]` for the length of a test; yields its base URL."""
    proc, base = start_demo(tmp_path, args=args)
    try:
        yield base
    finally:
        stop_demo(proc)
