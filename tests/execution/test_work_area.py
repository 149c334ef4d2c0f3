"""The zygote's fast check between samples: it proves the work area clean from inode counts
and one lstat per root instead of a listing, so each way of leaving something behind that
keeps the listing-free counts plausible must still reach the next sample as a clean area."""

from __future__ import annotations

import pytest

from tdrl import Problem, Sample, Test

from .test_redteam import CORRECT, check, later_samples_are_judged_right, needs_bwrap
from .test_redteam import solo as solo  # noqa: F401  (a fixture)

CLEAN = (
    "import os\nassert os.listdir('/tmp') == ['work'] and os.listdir('/dev/shm') == []\n"
    "assert sorted(os.listdir('.')) == ['.stderr', '.stdout'] and os.stat('.stdout').st_size == 0\n" + CORRECT
)


MODES = "import os\nraise ValueError(repr([oct(os.lstat(p).st_mode) for p in ('/tmp', '/tmp/work', '/dev/shm')]))\n"


def modes(v) -> str:
    """The modes of /tmp, the work folder and /dev/shm as a sample sees them."""
    return check(v, MODES).tests[0].error


@needs_bwrap
@pytest.mark.parametrize(
    "leftover",
    [
        # a hard link keeps a job file's inode alive under another name
        "os.link('/tmp/work/.stdout', '/tmp/kept')",
        # a job file renamed away and a new one of the same name made: same names, one inode more
        "os.rename('/tmp/work/.stderr', '/tmp/moved')\n    open('/tmp/work/.stderr', 'w').close()",
        # a job file replaced by a folder of the same name
        "os.unlink('/tmp/work/.stdout')\n    os.mkdir('/tmp/work/.stdout')",
        # the work folder swapped for another empty folder of the same name and mode
        "os.chdir('/tmp')\n    os.rename('/tmp/work', '/tmp/old')\n    os.mkdir('/tmp/work', 0o700)\n"
        "    os.rename('/tmp/old/.stdout', '/tmp/work/.stdout')\n    os.rename('/tmp/old/.stderr', '/tmp/work/.stderr')\n    os.rmdir('/tmp/old')",
        # a mode change on a root or the work folder, nothing else
        "os.chmod('/dev/shm', 0o777)",
        "os.chmod('/tmp/work', 0o755)",
        # an empty file in a hidden corner
        "open('/tmp/work/.stdin', 'w').close()",
    ],
    ids=[
        "hard-link",
        "renamed-job-file",
        "job-file-now-a-folder",
        "work-folder-swapped",
        "root-mode",
        "work-mode",
        "stray-stdin",
    ],
)
def test_the_fast_check_misses_no_leftover(solo, leftover):
    at_start = modes(solo)
    assert check(solo, f"import os\ndef damage():\n    {leftover}\ndamage()\n" + CORRECT).status == "pass"
    assert modes(solo) == at_start
    r = check(solo, CLEAN)
    assert r.status == "pass", r.tests
    later_samples_are_judged_right(solo)


@needs_bwrap
def test_a_stdio_job_leaves_no_stdin_for_the_next_sample(solo):
    echo = Problem("echo", [Test("stdio", stdin="3 4\n", stdout="7\n")])
    stdio = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n"
    assert solo.check(echo, Sample("echo", "s", stdio)).status == "pass"
    r = check(solo, CLEAN)
    assert r.status == "pass", r.tests
    later_samples_are_judged_right(solo)
