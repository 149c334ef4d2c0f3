"""tdrl.execution: the only place where generated (untrusted) code runs.

What it protects against (each property has its own adversarial test in
``tests/execution/test_adversarial.py``):

* **Faked verdicts.** Verdicts are computed by the trusted parent, never in the sandbox.
  Expected outputs never enter it: call tests send only the input literal; assert tests
  are split into *probes* (the sub-expressions that call the program) and a trusted check
  evaluated in the parent (``asserts.py``). The child returns type-tagged plain values
  (JSON, never pickle); only exact built-in types are encoded, so objects with a fake
  ``__eq__``/``__bool__`` and ``int`` subclasses fail. A test passes only on a positive
  per-test record; exiting (``sys.exit(0)``, ``os._exit(0)``) is never a pass. Whatever a
  program writes on the result channel counts only as *its own answer*, judged like one.
* **Escapes.** bubblewrap namespaces (user, PID, network, IPC, UTS, cgroup): no network,
  a read-only ``/usr`` and Python installation, a private ``/tmp`` and ``/dev/shm``, a
  read-only root, no working directory, home or problems file, no signals to the
  verifier (other PID namespace), capabilities dropped (``sandbox.py``); an allow-list
  seccomp filter (``_seccomp.py``) that also checks ``clone`` flags, socket families and
  ``prlimit64``'s pid.
* **One sample reaching another.** The zygote is pid 1 of its sandbox and not dumpable;
  programs, records and output never become objects in its memory, so no later child
  inherits them; between jobs it empties ``/tmp`` and ``/dev/shm`` and checks itself,
  and retires (a fresh sandbox takes over) when anything is off (``_zygote.py``).
  References and other trusted code run on a pool of their own (``verifier.py``).
* **Stalling the judge.** Records are validated by type and size; decoding and the
  trusted assert check run within budgets (``values.py``, ``asserts.py``).
* **Resource abuse.** Wall-clock limits per test and per sample enforced from outside
  with SIGKILL, RLIMIT_CPU as a backstop, a cgroup memory and process limit (relative
  RLIMIT_AS and RLIMIT_NPROC without cgroups), RLIMIT_FSIZE on stdout/stderr (1 GB of
  output ends as ``output_limit`` at once), a cap on result bytes. After every run the
  zygote kills everything in the namespace but itself and reaps it: no orphans, no zombies.
* **Crashing the harness.** Segfaults, ``os.killpg(0, 9)``, killing the zygote, closing
  descriptors: the parent notices, restarts the sandbox, retries the sample once, then
  charges the failure to the sample; later samples run normally.

What it does not protect against:

* ``script`` tests (HumanEval-style check functions with loops, asserts outside the
  trusted subset) run *inside* the sandbox, in the program's own process; a hostile
  program can fake them. Results count them (``weak_tests`` on the plan); prefer call
  tests or simple asserts for RL rewards.
* Without bubblewrap (``sandbox: "none"``), only rlimits and a cgroup apply: no network or
  filesystem isolation. This is announced on stderr and recorded in every result.
* Kernel exploits, and side channels such as timing.
"""

from tdrl.execution.extract import extract_code
from tdrl.execution.verifier import TimePolicy, Verifier
from tdrl.execution.worker import Limits

__all__ = ["Limits", "TimePolicy", "Verifier", "extract_code"]
