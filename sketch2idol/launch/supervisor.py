"""Keep tritonserver and the gateway running side by side (what `sketch2idol demo` runs).

- `Backoff`: restart delays 1, 2, 4 ... s, capped at 30 s, back to 1 s once the process
  had stayed up for `RESET_AFTER_S`.
- `GatewayProcess`: the gateway as a child process in its own process group (so a Ctrl-C in
  the terminal reaches only the supervisor, which stops it in order), its output appended
  to a log file; `stop()` sends SIGTERM to the group, then SIGKILL to what is left.
- `Supervisor`: starts Triton (a `TritonServer`), then the gateway, and waits until the
  gateway answers; `poll()` notices a process that died and restarts it when its backoff
  delay is over (while Triton is down the gateway keeps running and answers 503);
  `stop()` stops the gateway, then Triton.

Processes are started from the calling thread and get SIGTERM if it dies first
(PR_SET_PDEATHSIG), so run the supervisor in the main thread.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sketch2idol.core.errors import UserError
from sketch2idol.launch.process import ChildProcess, describe_exit, url_answers
from sketch2idol.launch.tritonserver import TritonServer, TritonStartError

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
RESET_AFTER_S = 60.0
GATEWAY_STOP_GRACE_S = 10.0


class GatewayStartError(UserError):
    """The gateway exited or did not answer while starting."""


@dataclass
class Backoff:
    """Exponential restart delays: `next_delay()` gives 1, 2, 4 ... capped; `reset()`."""

    first_s: float = FIRST_DELAY_S
    max_s: float = MAX_DELAY_S
    _next_s: float | None = None

    def next_delay(self) -> float:
        delay = self.first_s if self._next_s is None else self._next_s
        self._next_s = min(delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = None


def last_line(path: Path) -> str:
    """The last non-empty line of a log file ('' when there is none)."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def keep_log(log_file: Path) -> Path:
    """Copy a dead server's log to `<name>.previous` (its restart empties the log)."""
    kept = log_file.with_name(log_file.name + ".previous")
    try:
        shutil.copyfile(log_file, kept)
    except OSError:
        return log_file
    return kept


class GatewayProcess(ChildProcess):
    """The gateway command as a child process group, output appended to `log_file`."""

    def __init__(self, command: Sequence[str], log_file: Path, health_url: str, *,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        super().__init__(command, log_file, env=env, cwd=cwd)
        self.health_url = health_url

    @property
    def log_file(self) -> Path:
        return self.output

    def wait_until_healthy(self, timeout_s: float) -> None:
        """Wait for `health_url` to answer 200; GatewayStartError if it exits or times out."""
        def exited(code: int) -> Exception:
            code = self.stop()
            return GatewayStartError(f"the gateway {describe_exit(code)} while starting: "
                                     f"{last_line(self.log_file) or 'nothing logged'} "
                                     f"(log: {self.log_file})")

        def timed_out() -> Exception:
            self.stop()
            return GatewayStartError(f"the gateway did not answer {self.health_url} within "
                                     f"{timeout_s:g} s (log: {self.log_file})")

        self.wait_until(lambda: url_answers(self.health_url), timeout_s, exited=exited,
                        timed_out=timed_out)

    def stop(self, grace_s: float = GATEWAY_STOP_GRACE_S) -> int | None:
        """SIGTERM the group, wait up to `grace_s`, SIGKILL what is left; the exit code."""
        return super().stop(grace_s)


@dataclass
class RestartState:
    """When a supervised process last came up and when it is due to be started again."""

    backoff: Backoff = field(default_factory=Backoff)
    up_since: float | None = None
    restart_at: float | None = None

    def came_up(self, now: float) -> None:
        self.up_since, self.restart_at = now, None

    def went_down(self, now: float) -> float:
        """Schedule the restart; returns its delay (reset if it had been up long enough)."""
        if self.up_since is not None and now - self.up_since >= RESET_AFTER_S:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        self.up_since, self.restart_at = None, now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.restart_at is not None and now >= self.restart_at


class Supervisor:
    """Triton and the gateway kept running together; `say` gets one line per event."""

    def __init__(self, triton: TritonServer, gateway: GatewayProcess, *,
                 say: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic,
                 ready_timeout_s: float = 120.0) -> None:
        self.triton = triton
        self.gateway = gateway
        self.say = say
        self.clock = clock
        self.ready_timeout_s = ready_timeout_s
        self.triton_state = RestartState()
        self.gateway_state = RestartState()

    def start(self) -> None:
        """Start Triton, then the gateway; raises (one line) and stops both on failure."""
        try:
            self.triton.start(self.ready_timeout_s)
            self.triton_state.came_up(self.clock())
            self.gateway.start()
            self.gateway.wait_until_healthy(self.ready_timeout_s)
            self.gateway_state.came_up(self.clock())
        except BaseException:
            self.stop()
            raise

    def poll(self) -> None:
        """One supervision step: notice a death, restart what is due."""
        now = self.clock()
        if self.triton_state.restart_at is None and not self.triton.alive():
            code = self.triton.stop()  # reaps it and kills the stubs left in its group
            kept_log = keep_log(self.triton.log_file)  # start() empties the log
            delay = self.triton_state.went_down(now)
            self.say(f"tritonserver {describe_exit(code)}; restarting in {delay:g} s "
                     f"(its log: {kept_log})")
        if self.gateway_state.restart_at is None and not self.gateway.alive():
            code = self.gateway.stop()
            delay = self.gateway_state.went_down(now)
            reason = f": {last_line(self.gateway.log_file)}" if code and code > 0 else ""
            self.say(f"gateway {describe_exit(code)}{reason}; restarting in {delay:g} s "
                     f"(log: {self.gateway.log_file})")
        if self.triton_state.due(now):
            self._restart_triton()
        if self.gateway_state.due(self.clock()):
            self._restart_gateway()

    def _restart_triton(self) -> None:
        try:
            self.triton.start(self.ready_timeout_s)
        except TritonStartError as error:
            delay = self.triton_state.went_down(self.clock())
            self.say(f"tritonserver did not come back: {error}; next try in {delay:g} s")
            return
        self.triton_state.came_up(self.clock())
        self.say(f"tritonserver ready again (pid {self.triton.pid})")

    def _restart_gateway(self) -> None:
        try:
            self.gateway.start()
            self.gateway.wait_until_healthy(self.ready_timeout_s)
        except GatewayStartError as error:
            delay = self.gateway_state.went_down(self.clock())
            self.say(f"{error}; next try in {delay:g} s")
            return
        self.gateway_state.came_up(self.clock())
        self.say(f"gateway ready again (pid {self.gateway.pid})")

    def stop(self) -> None:
        """Stop the gateway, then Triton (each waits for its process and its group)."""
        self.gateway.stop()
        self.triton.stop()
