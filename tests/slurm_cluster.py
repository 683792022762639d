"""A real single-node SLURM on localhost for the tests: munge, slurmctld and slurmd, started and stopped by pid.

Facts from DESIGN section 9 that this follows: Debian `slurm-wlm` 22.05 and `munge`; a 1024-byte
/etc/munge/munge.key owned by munge with mode 400 and `munged --force`; the config must be /etc/slurm/slurm.conf
(with only SLURM_CONF set, `srun` inside a job cannot find it); linuxproc proctrack, no task plugin, cons_tres by
core, MinJobAge raised so `squeue` still sees finished jobs (accounting is off), ReturnToService=2, SlurmUser=root,
and state/spool directories of its own. The daemons run in the foreground as our children, and `stop` ends them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("munge", "munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "srun")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET_DIR = Path("/run/munge")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# Written by the SkeletonLLM tests (tests/slurm_cluster.py); removed when they stop the cluster."


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the local test cluster (binaries missing, not root, a foreign slurm.conf)."""


def why_unavailable() -> str | None:
    """The reason a local cluster cannot be started here, or None when it can."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return f"SLURM/munge binaries not found: {', '.join(missing)} (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmctld, slurmd and munged needs root"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} exists and was not written by these tests; refusing to replace it"
    return None


@dataclass
class SlurmCluster:
    """A running local cluster: its partition, state directory and the daemons this process started."""

    partition: str
    state_dir: Path
    node: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of each daemon's log, to explain a failure."""
        parts = []
        for name in self.processes:
            path = self.state_dir / f"{name}.log"
            if path.exists():
                parts.append(f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)


def _munge_works() -> bool:
    """Whether a munged already answers on this host (then it is used as it is)."""
    encode = subprocess.run(["munge", "-n"], capture_output=True)
    if encode.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=encode.stdout, capture_output=True).returncode == 0


def _install_munge_key() -> None:
    """A 1024-byte key owned by munge with mode 400 (replaced when its size differs: no munged is using it)."""
    munge_user = pwd.getpwnam("munge")
    if not MUNGE_KEY.exists() or MUNGE_KEY.stat().st_size != 1024:
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        MUNGE_KEY.write_bytes(os.urandom(1024))
    os.chown(MUNGE_KEY, munge_user.pw_uid, munge_user.pw_gid)
    MUNGE_KEY.chmod(0o400)
    MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    os.chown(MUNGE_SOCKET_DIR, munge_user.pw_uid, munge_user.pw_gid)


def _real_memory_mb() -> int:
    """Memory to declare for the node: 90% of what the machine has, so slurmd never reports less than declared."""
    with open("/proc/meminfo") as meminfo:
        total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return int(total_kb / 1024 * 0.9)


def slurm_conf(node: str, partition: str, state_dir: Path, cpus: int, memory_mb: int) -> str:
    """The slurm.conf of a one-node cluster on 127.0.0.1 whose state, spool, pid and log files live in state_dir."""
    return "\n".join([
        MARKER,
        "ClusterName=skeletonllm-test",
        f"SlurmctldHost={node}(127.0.0.1)",
        "AuthType=auth/munge",
        "SlurmUser=root",
        f"StateSaveLocation={state_dir}/slurmctld-state",
        f"SlurmdSpoolDir={state_dir}/slurmd-spool",
        f"SlurmctldPidFile={state_dir}/slurmctld.pid",
        f"SlurmdPidFile={state_dir}/slurmd.pid",
        f"SlurmctldLogFile={state_dir}/slurmctld.log",
        f"SlurmdLogFile={state_dir}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "MinJobAge=3600",
        "ReturnToService=2",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _wait_until_idle(cluster: SlurmCluster, timeout: float) -> None:
    """Block until the node reports idle; raises with the daemons' logs when it does not in time."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n{cluster.log_tail()}")
        probe = subprocess.run(["sinfo", "-h", "-n", cluster.node, "-o", "%T"], capture_output=True, text=True)
        state = probe.stdout.strip()
        if probe.returncode == 0 and state == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"node {cluster.node} not idle after {timeout:.0f} s (state {state!r})\n{cluster.log_tail()}")


def start(partition: str, state_dir: Path, timeout: float = 60) -> SlurmCluster:
    """Start munge (unless one already answers), slurmctld and slurmd; return once the node is idle.

    Raises SlurmUnavailable when this machine cannot run it; on any later failure the started daemons are stopped.
    """
    reason = why_unavailable()
    if reason:
        raise SlurmUnavailable(reason)
    state_dir = Path(state_dir).resolve()
    for sub in ("slurmctld-state", "slurmd-spool"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    cluster = SlurmCluster(partition=partition, state_dir=state_dir, node=node)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(node, partition, state_dir, os.cpu_count() or 1, _real_memory_mb()))
    try:
        if not _munge_works():
            _install_munge_key()
            _spawn(cluster, "munged", ["munged", "--foreground", "--force"])
            _wait_for(_munge_works, timeout=10, what="munged", cluster=cluster)
        _spawn(cluster, "slurmctld", ["slurmctld", "-D"])
        _spawn(cluster, "slurmd", ["slurmd", "-D"])
        _wait_until_idle(cluster, timeout)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _spawn(cluster: SlurmCluster, name: str, command: list[str]) -> None:
    """Start one daemon in the foreground, its output going to <state_dir>/<name>.log."""
    log = open(cluster.state_dir / f"{name}.log", "ab")
    cluster.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()


def _wait_for(check, timeout: float, what: str, cluster: SlurmCluster) -> None:
    """Poll check() until it is true; raises with the daemons' logs after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout:.0f} s\n{cluster.log_tail()}")
        time.sleep(0.2)


def stop(cluster: SlurmCluster, timeout: float = 15) -> None:
    """Stop the daemons this process started (slurmd, slurmctld, then munged), by pid, and remove our slurm.conf."""
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
        SLURM_CONF.unlink()
