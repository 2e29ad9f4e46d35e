"""Real `crmbot worker` / `crmbot scheduler` processes for the scenario tests, pointed at the
stack's database, Redis and fake platforms; and a private redis-server that a test may kill."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from rq import Queue
from rq.registry import StartedJobRegistry

from jobs.queue import QUEUE_NAMES
from tests.conftest import WALL_CLOCK

REPO = Path(__file__).resolve().parents[2]


def settings_env(settings, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMBOT_", "WECOM_", "DINGTALK_"))}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[name.upper()] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    env.update(CRMBOT_REDIS_URL=redis_url, PYTHONPATH=str(REPO))
    return env


def start_process(env: dict, *args: str, patch: str | None = None) -> subprocess.Popen:
    """`python -m crmbot.cli ARGS`; with `patch`, that code runs first in the same process (how a
    test makes a job stop where it wants to kill it, without a hook in production code)."""
    if WALL_CLOCK:  # CI's rerun with the wall clock moved: the process keeps the test's time
        patch = f"import time_machine\ntime_machine.travel({datetime.now(timezone.utc).isoformat()!r}, " \
                f"tick=True).start()\n{patch or ''}"
    if patch:
        code = f"{patch}\nfrom crmbot.cli import main\nmain({list(args)!r})"
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, "-m", "crmbot.cli", *args]
    log = tempfile.NamedTemporaryFile(prefix="crmbot-proc-", suffix=".log", delete=False)  # noqa: SIM115
    # its own process group: killing "the worker" takes its rq scheduler child too, as systemd does
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.log_path = log.name  # a file, not a pipe: a chatty worker must never block on a full pipe
    return proc


def process_log(proc: subprocess.Popen) -> str:
    return Path(proc.log_path).read_text(errors="replace")[-3000:]


def kill_process(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its children (rq's scheduler)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=5)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    kill_process(proc)  # whatever is left of the group
    Path(proc.log_path).unlink(missing_ok=True)


@contextmanager
def processes(env: dict, *commands: tuple[str, ...]):
    procs = [start_process(env, *cmd) for cmd in commands]
    try:
        yield procs
    except BaseException:
        for proc in procs:  # pytest shows this with the failure
            print(f"---- {' '.join(proc.args[-2:])} (pid {proc.pid}) log tail:\n{process_log(proc)}")
        raise
    finally:
        for proc in procs:
            stop_process(proc)


def wait_for(predicate, timeout: float, what: str, procs=()) -> None:
    """Poll until `predicate()` is true; fail naming `what` (and any process that died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{proc.args[-1]} exited ({proc.returncode}) while waiting for {what}: "
                                     f"{process_log(proc)}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def queues_idle(conn) -> bool:
    """Nothing queued or running (scheduled retries aside)."""
    return all(Queue(n, connection=conn).count == 0 and StartedJobRegistry(n, connection=conn).count == 0
               for n in QUEUE_NAMES)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own (no persistence), so killing it disturbs nobody."""

    def __init__(self, tmp: Path):
        self.port, self.tmp, self.proc = free_port(), tmp, None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)
