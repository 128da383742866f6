"""The one child-process wrapper of the launchers (tritonserver, the gateway under the demo
supervisor): a command started in its own process group (so a Ctrl-C in the terminal
reaches only the parent, which stops children in order), output to a log file, SIGTERM when
the starting thread dies (PR_SET_PDEATHSIG); waiting until it answers, and stopping it:
SIGTERM, a grace period, then SIGKILL to whatever is left in its group.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

POLL_INTERVAL_S = 0.2
# Talks to local servers directly, whatever http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def url_answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether GET url answers 200."""
    try:
        with _DIRECT.open(url, timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the thread that started it dies.

    Linux delivers it when the starting *thread* exits, so start children from a thread that
    lives as long as they should (the main thread in the CLI and in pytest fixtures).
    """
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def describe_exit(code: int | None) -> str:
    """'exited with code 1' / 'was killed by SIGKILL' for a Popen return code."""
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exited with code {code}"


def signal_group(pgid: int, signum: int) -> None:
    """Send `signum` to a process group; nothing if it is gone."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class ChildProcess:
    """`command` as a child in its own process group, stdout and stderr into `output`
    (appended, or emptied first with append=False)."""

    def __init__(self, command: Sequence[str], output: Path, *,
                 env: dict[str, str] | None = None, cwd: Path | None = None,
                 append: bool = True) -> None:
        self.command = list(command)
        self.output = Path(output).absolute()
        self.env = env
        self.cwd = cwd
        self.append = append
        self._process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id (also its process group id), None before start()."""
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll(self) -> int | None:
        return self._process.poll() if self._process else None

    def wait(self, timeout_s: float | None = None) -> int:
        """Its exit code; subprocess.TimeoutExpired if still running after `timeout_s`."""
        return self._process.wait(timeout=timeout_s)

    def start(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "ab" if self.append else "wb") as log:  # the child has its own
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd, start_new_session=True,
                preexec_fn=die_with_parent)

    def wait_until(self, answers: Callable[[], bool], timeout_s: float, *,
                   exited: Callable[[int], Exception],
                   timed_out: Callable[[], Exception]) -> None:
        """Poll `answers()` until it is true; raise `exited(code)` if the child ends first,
        `timed_out()` after `timeout_s` (neither stops the child: the caller decides)."""
        deadline = time.monotonic() + timeout_s
        while not answers():
            code = self.poll()
            if code is not None:
                raise exited(code)
            if time.monotonic() > deadline:
                raise timed_out()
            time.sleep(POLL_INTERVAL_S)

    def stop(self, grace_s: float, *, terminate_group: bool = True,
             before_kill: Callable[[int], None] | None = None) -> int | None:
        """SIGTERM the child (its whole group with terminate_group), wait up to `grace_s`,
        call `before_kill(pid)`, then SIGKILL what is left of the group, even after a clean
        exit. Returns the exit code (None if never started); safe to call again."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            if terminate_group:
                signal_group(process.pid, signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        if before_kill is not None:
            before_kill(process.pid)
        signal_group(process.pid, signal.SIGKILL)
        return process.wait()
