"""A real two-node Ray cluster on this machine: a head and a second raylet, each with one CPU.

Used by tests/test_ray.py and scripts/ray_compare.py. Every process of the cluster carries the
cluster's own temporary folder in its command line, so it is found (and stopped, and the second
node killed) by that folder and its pid, never by name: other Ray instances on the machine are
left alone (``ray stop`` would stop them too).
"""

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
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ports() -> list[str]:
    """Ports of a node's side processes: two raylets on one host must not share them."""
    names = (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    )
    return [f"{name}={_free_port()}" for name in names]


class LocalCluster:
    """``ray start --head`` and ``ray start --address`` on this machine; `stop` ends both."""

    def __init__(self, cpus_per_node: int = 1, *, dashboard: bool = False) -> None:
        # Short: Ray puts unix sockets under it, and their paths are limited to ~107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="iqr", dir="/tmp"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.cpus = cpus_per_node
        # Started from this Python's folder, as from an activated venv: a job's ``python`` is it.
        bin_dir = str(Path(sys.executable).parent)
        path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PATH": path}
        self.ray = str(Path(bin_dir) / "ray")
        # The head's dashboard serves job submission (``ray job submit``); off unless asked for.
        self.dashboard_port = _free_port() if dashboard else None
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}" if dashboard else None

    def start(self, timeout: float = 120.0) -> LocalCluster:
        common = [f"--num-cpus={self.cpus}", "--disable-usage-stats", *_ports()]
        self._ray(
            "start",
            "--head",
            f"--port={self.port}",
            f"--temp-dir={self.root / 'head'}",
            *(
                [
                    "--include-dashboard=true",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={self.dashboard_port}",
                ]
                if self.dashboard_port
                else ["--include-dashboard=false"]
            ),
            '--resources={"head_node": 1}',
            *common,
        )
        self._ray(
            "start",
            f"--address={self.address}",
            f"--temp-dir={self.root / 'node2'}",
            '--resources={"second_node": 1}',
            f"--num-cpus={self.cpus}",
            "--disable-usage-stats",
            *_ports(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = subprocess.run(
                [self.ray, "status", f"--address={self.address}"],
                capture_output=True,
                text=True,
                env=self.env,
                timeout=60,
            ).stdout
            if f"/{2 * self.cpus}.0 CPU" in status:
                return self
            time.sleep(1)
        raise RuntimeError(f"the two-node Ray cluster did not come up in {timeout:.0f} s")

    def second_node_raylet(self) -> int | None:
        """Pid of the second node's raylet."""
        for pid, cmd in self._processes():
            if "raylet" in cmd.split("\0")[0] and str(self.root / "node2") in cmd:
                return pid
        return None

    def kill_second_node(self) -> None:
        """SIGKILL the second node's raylet: the node dies, with the workers and actors on it."""
        pid = self.second_node_raylet()
        if pid is None:
            raise RuntimeError("the second node's raylet is not running")
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """End every process of this cluster (by pid: those whose command line names its folder)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid, _cmd in self._processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2 if sig == signal.SIGTERM else 0)
        shutil.rmtree(self.root, ignore_errors=True)

    def _processes(self) -> list[tuple[int, str]]:
        found = []
        marker = str(self.root).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmd:
                found.append((int(entry.name), cmd.decode(errors="replace")))
        return found

    def submit_job(
        self, runtime_env: dict[str, object], entrypoint: list[str], cwd: Path, timeout: float
    ) -> str:
        """``ray job submit`` to the head's dashboard from ``cwd``, waiting for the job; its output.

        Raises when the job fails (its output in the message)."""
        if self.dashboard_url is None:
            raise RuntimeError("this cluster was started without a dashboard: no job submission")
        done = subprocess.run(
            [
                self.ray,
                "job",
                "submit",
                f"--address={self.dashboard_url}",
                f"--runtime-env-json={json.dumps(runtime_env)}",
                "--",
                *entrypoint,
            ],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"ray job submit failed ({done.returncode}): {(done.stdout + done.stderr)[-3000:]}"
            )
        return done.stdout

    def _ray(self, *args: str) -> None:
        done = subprocess.run([self.ray, *args], capture_output=True, text=True, env=self.env, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray {args[0]} failed: {done.stderr[-2000:]}")
