"""Start the sandbox that hosts a zygote: bubblewrap namespaces plus a cgroup when we may.

Layers, from the outside in:

* **bubblewrap** (``bwrap``): new user, PID, network, IPC, UTS and cgroup namespaces; a
  read-only view of ``/usr`` and the Python installation, a private ``/tmp`` tmpfs, no
  ``/home``, ``/root``, ``/etc`` or working directory (so no problems file to read), no
  network but a loopback nobody listens on, all capabilities dropped, and the sandbox dies
  with its parent.
* **cgroup** (v1 or v2, when this process may create one, e.g. as root): a memory limit
  and a process limit per worker, one CPU share per worker (so a sample's busy processes
  slow its own worker only), and an OOM counter the parent reads to tell an
  out-of-memory kill from any other SIGKILL.
* **rlimits** in each run (set by the zygote): CPU seconds, file size (stdout/stderr),
  open files, core dumps off; RLIMIT_NPROC and a relative RLIMIT_AS where no cgroup is.

Where bubblewrap is missing or cannot create namespaces (some unprivileged containers),
``mode="auto"`` falls back to running the zygote as a plain subprocess with rlimits only,
and says so loudly on stderr and in every result (``sandbox: "none"``). ``mode="bwrap"``
refuses to run without it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from tdrl.errors import ConfigError

ZYGOTE = Path(__file__).with_name("_zygote.py")
SECCOMP = Path(__file__).with_name("_seccomp.py")


SHM_BYTES = 16 << 20  # /dev/shm (POSIX semaphores, multiprocessing): small, emptied after every sample


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be had on this machine."""


def python_prefix() -> tuple[str, str]:
    """The interpreter the sandbox runs and the installation folder to expose read-only."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable) or sys.executable)
    return exe, os.path.realpath(sys.base_prefix)


@functools.lru_cache(maxsize=1)
def bwrap_works() -> str | None:
    """None when bubblewrap can create our namespaces here, else the reason it cannot."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "bubblewrap (bwrap) is not installed"
    try:
        proc = subprocess.run([*_bwrap_args(4 << 20), "/bin/true"], capture_output=True, timeout=20, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    return None


def _bwrap_args(tmp_bytes: int) -> list[str]:
    exe, prefix = python_prefix()
    args = [
        "bwrap",
        "--unshare-all",
        "--as-pid-1",  # the zygote is the sandbox's init: no other process holds our pipes
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PYTHONHASHSEED",
        "0",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for top in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for extra in {prefix, os.path.dirname(exe)}:
        if not extra.startswith("/usr/"):
            args += ["--ro-bind", extra, extra]
    args += [
        "--ro-bind",
        str(ZYGOTE),
        "/tdrl/zygote.py",
        "--ro-bind",
        str(SECCOMP),
        "/tdrl/_seccomp.py",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(tmp_bytes),
        "--tmpfs",
        "/tmp",
        "--size",
        str(SHM_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",  # the root and /dev stay as built: only /tmp and /dev/shm take writes
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
    ]
    return args


@dataclass
class Cgroup:
    """A per-worker cgroup (v1: memory + pids hierarchies, and cpu where there is one; v2: one folder)."""

    paths: list[Path]
    version: int

    @classmethod
    def create(cls, name: str, memory_bytes: int, pids: int) -> Cgroup | None:
        """Make the cgroup, or None when this process may not (not root, read-only cgroupfs)."""
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "cgroup.controllers").exists():
                base = root / _own_cgroup("")
                _sweep_stale(base)
                path = base / name
                path.mkdir()
                group = cls([path], 2)
                (path / "memory.max").write_text(str(memory_bytes))
                (path / "pids.max").write_text(str(pids))
                return group
            mem, pid = root / "memory", root / "pids"
            for ctrl_root, ctrl in ((mem, "memory"), (pid, "pids")):
                _sweep_stale(ctrl_root / _own_cgroup(ctrl))
            if not (mem.is_dir() and pid.is_dir()):
                return None
            paths = []
            for ctrl_root, ctrl in ((mem, "memory"), (pid, "pids")):
                base = ctrl_root / _own_cgroup(ctrl)
                if not base.is_dir():
                    base = ctrl_root
                path = base / name
                path.mkdir()
                paths.append(path)
            group = cls(paths, 1)
            cpu_path = _v1_cpu_group(root / "cpu", name)
            if cpu_path is not None:
                paths.append(cpu_path)
            (paths[0] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            try:
                (paths[0] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            except OSError:
                pass  # no swap accounting on this kernel
            (paths[1] / "pids.max").write_text(str(pids))
            return group
        except OSError:
            try:
                group.remove()  # type: ignore[possibly-undefined]
            except (NameError, UnboundLocalError):
                pass
            return None

    @property
    def procs_files(self) -> list[str]:
        return [str(p / "cgroup.procs") for p in self.paths]

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for lack of memory so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.paths[0] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self) -> None:
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    import time

                    time.sleep(0.02)


def _v1_cpu_group(cpu_root: Path, name: str) -> Path | None:
    """A v1 ``cpu`` group for one worker, or None where there is no such hierarchy or we may not make one.

    Its tasks share one group's CPU weight: a sample that starts 60 busy processes slows its
    own worker, not the samples of the other workers (in the root group each process, or each
    ``setsid`` session under autogroup, weighs as much as a whole worker). cgroup v2 gets the
    same from the group itself where its ``cpu`` controller is on.
    """
    if not cpu_root.is_dir():
        return None
    _sweep_stale(cpu_root / _own_cgroup("cpu"))
    base = cpu_root / _own_cgroup("cpu")
    path = (base if base.is_dir() else cpu_root) / name
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _sweep_stale(base: Path) -> None:
    """Remove empty cgroups left by verifiers that were killed (named tdrl-<pid>-...)."""
    try:
        entries = list(base.glob("tdrl-*"))
    except OSError:
        return
    for path in entries:
        try:
            owner = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            try:
                path.rmdir()
            except OSError:
                pass  # still has processes, or not ours to remove


def _own_cgroup(controller: str) -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if (controller and controller in ctrls.split(",")) or (not controller and ctrls == ""):
                return path.lstrip("/")
    except OSError:
        pass
    return ""


def _join_cgroup(files: list[str]) -> None:  # runs between fork and exec: keep it to raw syscalls
    pid = str(os.getpid()).encode()
    for f in files:
        fd = os.open(f, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def resolve_mode(mode: str) -> str:
    """Map ``auto``/``bwrap``/``none`` to the isolation actually used, warning when it degrades."""
    if mode not in ("auto", "bwrap", "none"):
        raise ConfigError(f"unknown sandbox mode {mode!r} (auto, bwrap, none)")
    if mode == "none":
        return "none"
    reason = bwrap_works()
    if reason is None:
        return "bwrap"
    if mode == "bwrap":
        raise SandboxUnavailable(reason)
    message = (
        f"tdrl: OS sandbox unavailable ({reason}); running untrusted code with rlimits only: "
        "no network, filesystem or PID isolation. Install bubblewrap, or pass --sandbox none to accept this."
    )
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    print("WARNING: " + message, file=sys.stderr)
    return "none"


def spawn_zygote(mode: str, tmp_bytes: int, cgroup: Cgroup | None, workdir: str | None = None) -> subprocess.Popen:
    """Start one sandboxed zygote with pipes on stdin/stdout/stderr."""
    exe, _ = python_prefix()
    if mode == "bwrap":
        argv = [*_bwrap_args(tmp_bytes), exe, "-I", "-S", "-B", "/tdrl/zygote.py"]
        env = None
    else:
        argv = [exe, "-I", "-S", "-B", str(ZYGOTE), workdir or tempfile.mkdtemp(prefix="tdrl-run-")]  # emptied after every sample
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
    preexec = functools.partial(_join_cgroup, cgroup.procs_files) if cgroup else None
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=preexec,
        start_new_session=True,
        bufsize=0,
    )
