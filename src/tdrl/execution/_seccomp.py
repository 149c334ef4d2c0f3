"""The seccomp policy of the sandbox: an allow-list (default deny) for x86_64 and aarch64.

Standalone (the zygote imports it inside the sandbox; it imports nothing from tdrl). The
zygote installs the filter on itself once, so every child inherits it and cannot lift it.

* syscalls in :data:`ALLOW` run: files and descriptors, memory, processes and threads,
  signals and clocks, waiting, local sockets, randomness (grouped as in docs/verifier.md);
* four are allowed only with checked arguments: ``clone`` without any ``CLONE_NEW*``
  flag, ``socket``/``socketpair`` only for ``AF_UNIX``, ``prlimit64`` only on pid 0
  (the caller itself, which is what ``setrlimit``/``getrlimit`` use);
* ``clone3`` fails with ENOSYS (its flags sit in memory a filter cannot read; glibc then
  falls back to ``clone``, which is checked; EPERM would break thread creation);
* syscalls in :data:`DENY` fail with EPERM (named so that a test sees a clear refusal);
* everything else fails with ENOSYS, as on a kernel that lacks it (so libc falls back).

Numbers come from the kernel's ``asm/unistd_64.h`` (x86_64) and ``asm-generic/unistd.h``
(aarch64); ``None`` where an architecture lacks the call.
"""

import os
import struct

# name: (x86_64, aarch64)
ALLOW = {
    # files and descriptors
    "read": (0, 63), "write": (1, 64), "readv": (19, 65), "writev": (20, 66), "pread64": (17, 67), "pwrite64": (18, 68),
    "preadv": (295, 69), "pwritev": (296, 70), "preadv2": (327, 286), "pwritev2": (328, 287), "open": (2, None),
    "openat": (257, 56), "openat2": (437, 437), "creat": (85, None), "close": (3, 57), "close_range": (436, 436),
    "dup": (32, 23), "dup2": (33, None), "dup3": (292, 24), "lseek": (8, 62), "fcntl": (72, 25), "flock": (73, 32),
    "fsync": (74, 82), "fdatasync": (75, 83), "sync_file_range": (277, 84), "fadvise64": (221, 223), "fallocate": (285, 47),
    "ftruncate": (77, 46), "truncate": (76, 45), "sendfile": (40, 71), "splice": (275, 76), "tee": (276, 77),
    "copy_file_range": (326, 285), "ioctl": (16, 29), "pipe": (22, None), "pipe2": (293, 59), "stat": (4, None),
    "fstat": (5, 80), "lstat": (6, None), "newfstatat": (262, 79), "statx": (332, 291), "statfs": (137, 43),
    "fstatfs": (138, 44), "access": (21, None), "faccessat": (269, 48), "faccessat2": (439, 439), "readlink": (89, None),
    "readlinkat": (267, 78), "getdents": (78, None), "getdents64": (217, 61), "getcwd": (79, 17), "chdir": (80, 49),
    "fchdir": (81, 50), "mkdir": (83, None), "mkdirat": (258, 34), "rmdir": (84, None), "rename": (82, None),
    "renameat": (264, 38), "renameat2": (316, 276), "link": (86, None), "linkat": (265, 37), "unlink": (87, None),
    "unlinkat": (263, 35), "symlink": (88, None), "symlinkat": (266, 36), "chmod": (90, None), "fchmod": (91, 52),
    "fchmodat": (268, 53), "chown": (92, None), "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54),
    "umask": (95, 166), "utime": (132, None), "utimes": (235, None), "utimensat": (280, 88), "futimesat": (261, None),
    "mknod": (133, None), "mknodat": (259, 33), "inotify_init": (253, None), "inotify_init1": (294, 26),
    "inotify_add_watch": (254, 27), "inotify_rm_watch": (255, 28), "memfd_create": (319, 279), "readahead": (187, 213),
    "setxattr": (188, 5), "lsetxattr": (189, 6), "fsetxattr": (190, 7), "getxattr": (191, 8), "lgetxattr": (192, 9),
    "fgetxattr": (193, 10), "listxattr": (194, 11), "llistxattr": (195, 12), "flistxattr": (196, 13),
    "removexattr": (197, 14), "lremovexattr": (198, 15), "fremovexattr": (199, 16),
    # memory
    "brk": (12, 214), "mmap": (9, 222), "munmap": (11, 215), "mremap": (25, 216), "mprotect": (10, 226), "madvise": (28, 233),
    "mincore": (27, 232), "msync": (26, 227), "membarrier": (324, 283),
    # processes and threads (clone: see CHECKED)
    "fork": (57, None), "vfork": (58, None), "execve": (59, 221), "execveat": (322, 281), "exit": (60, 93),
    "exit_group": (231, 94), "wait4": (61, 260), "waitid": (247, 95), "kill": (62, 129), "tkill": (200, 130),
    "tgkill": (234, 131), "getpid": (39, 172), "getppid": (110, 173), "gettid": (186, 178), "getpgid": (121, 155),
    "getpgrp": (111, None), "setpgid": (109, 154), "getsid": (124, 156), "setsid": (112, 157), "set_tid_address": (218, 96),
    "set_robust_list": (273, 99), "get_robust_list": (274, 100), "futex": (202, 98), "futex_waitv": (449, 449),
    "rseq": (334, 293), "arch_prctl": (158, None), "prctl": (157, 167), "sched_yield": (24, 124),
    "sched_getaffinity": (204, 123), "sched_setaffinity": (203, 122), "sched_getparam": (143, 121),
    "sched_getscheduler": (145, 120), "sched_get_priority_max": (146, 125), "sched_get_priority_min": (147, 126),
    "sched_rr_get_interval": (148, 127), "getpriority": (140, 141), "setpriority": (141, 140), "getcpu": (309, 168),
    "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424), "uname": (63, 160), "sysinfo": (99, 179),
    "getrusage": (98, 165), "times": (100, 153), "getrlimit": (97, 163), "setrlimit": (160, 164), "capget": (125, 90),
    "getuid": (102, 174), "geteuid": (107, 175), "getgid": (104, 176), "getegid": (108, 177), "getresuid": (118, 148),
    "getresgid": (120, 150), "getgroups": (115, 158),
    # signals and clocks
    "rt_sigaction": (13, 134), "rt_sigprocmask": (14, 135), "rt_sigreturn": (15, 139), "rt_sigpending": (127, 136),
    "rt_sigtimedwait": (128, 137), "rt_sigsuspend": (130, 133), "rt_sigqueueinfo": (129, 138),
    "rt_tgsigqueueinfo": (297, 240), "sigaltstack": (131, 132), "pause": (34, None), "alarm": (37, None),
    "nanosleep": (35, 101), "clock_nanosleep": (230, 115), "clock_gettime": (228, 113), "clock_getres": (229, 114),
    "gettimeofday": (96, 169), "time": (201, None), "getitimer": (36, 102), "setitimer": (38, 103),
    "timer_create": (222, 107), "timer_settime": (223, 110), "timer_gettime": (224, 108), "timer_getoverrun": (225, 109),
    "timer_delete": (226, 111), "timerfd_create": (283, 85), "timerfd_settime": (286, 86), "timerfd_gettime": (287, 87),
    "signalfd": (282, None), "signalfd4": (289, 74), "eventfd": (284, None), "eventfd2": (290, 19),
    # waiting
    "poll": (7, None), "ppoll": (271, 73), "select": (23, None), "pselect6": (270, 72), "epoll_create": (213, None),
    "epoll_create1": (291, 20), "epoll_ctl": (233, 21), "epoll_wait": (232, None), "epoll_pwait": (281, 22),
    "epoll_pwait2": (441, 441),
    # local sockets (socket and socketpair: see CHECKED)
    "connect": (42, 203), "accept": (43, 202), "accept4": (288, 242), "bind": (49, 200), "listen": (50, 201),
    "sendto": (44, 206), "recvfrom": (45, 207), "sendmsg": (46, 211), "recvmsg": (47, 212), "sendmmsg": (307, 269),
    "recvmmsg": (299, 243), "shutdown": (48, 210), "getsockname": (51, 204), "getpeername": (52, 205),
    "setsockopt": (54, 208), "getsockopt": (55, 209),
    # randomness
    "getrandom": (318, 278),
}  # fmt: skip

# allowed when the low word of the first argument passes the check (see module doc)
CHECKED = {"clone": (56, 220), "socket": (41, 198), "socketpair": (53, 199), "prlimit64": (302, 261)}
CLONE3 = (435, 435)

# refused with EPERM: tracing other processes, namespaces and mounts, kernel objects that
# outlive a sample (SysV IPC, POSIX message queues, keyrings), BPF, perf, io_uring, AIO,
# modules, reboot, identity changes, clocks, NUMA placement
DENY = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271), "process_madvise": (440, 440),
    "pidfd_getfd": (438, 438), "kcmp": (312, 272), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "fsopen": (430, 430), "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "move_mount": (429, 429), "open_tree": (428, 428), "mount_setattr": (442, 442), "unshare": (272, 97), "setns": (308, 268),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427), "io_setup": (206, 0),
    "io_submit": (209, 2), "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218), "shmget": (29, 194),
    "shmat": (30, 196), "shmctl": (31, 195), "shmdt": (67, 197), "semget": (64, 190), "semop": (65, 193), "semctl": (66, 191),
    "semtimedop": (220, 192), "msgget": (68, 186), "msgsnd": (69, 189), "msgrcv": (70, 188), "msgctl": (71, 187),
    "mq_open": (240, 180), "mq_unlink": (241, 181), "mq_timedsend": (242, 182), "mq_timedreceive": (243, 183),
    "mq_notify": (244, 184), "mq_getsetattr": (245, 185), "init_module": (175, 105), "finit_module": (313, 273),
    "delete_module": (176, 106), "reboot": (169, 142), "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "swapon": (167, 224), "swapoff": (168, 225), "name_to_handle_at": (303, 264), "open_by_handle_at": (304, 265),
    "setuid": (105, 146), "setgid": (106, 144), "setreuid": (113, 145), "setregid": (114, 143), "setresuid": (117, 147),
    "setresgid": (119, 149), "setfsuid": (122, 151), "setfsgid": (123, 152), "setgroups": (116, 159), "capset": (126, 91),
    "personality": (135, 92), "quotactl": (179, 60), "acct": (163, 89), "syslog": (103, 116), "settimeofday": (164, 170),
    "clock_settime": (227, 112), "adjtimex": (159, 171), "clock_adjtime": (305, 266), "sethostname": (170, 161),
    "setdomainname": (171, 162), "iopl": (172, None), "ioperm": (173, None), "fanotify_init": (300, 262),
    "fanotify_mark": (301, 263), "memfd_secret": (447, 447), "mbind": (237, 235), "set_mempolicy": (238, 237),
    "migrate_pages": (256, 238), "move_pages": (279, 239), "vhangup": (153, 58),
}  # fmt: skip

ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}  # column in the tables, AUDIT_ARCH_*
CLONE_NEW_FLAGS = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
AF_UNIX = 1

_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW = 0x7FFF0000
RET_EPERM = 0x00050000 | 1
RET_ENOSYS = 0x00050000 | 38
_ARG0 = 16  # offsetof(struct seccomp_data, args[0]), low word on both (little-endian) arches


def program(machine: str | None = None) -> bytes | None:
    """The classic-BPF filter for ``machine`` (default: this one), or None for an unknown arch.

    Every test is a short forward jump (BPF jump offsets are 8 bits), so the program is a
    flat list of ``if nr == N: return ACTION`` blocks ending in ENOSYS.
    """
    machine = machine or os.uname().machine
    if machine not in ARCHES:
        return None
    col, arch = ARCHES[machine]
    prog = [
        (_LD, 0, 0, 4),  # arch
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, RET_EPERM),
        (_LD, 0, 0, 0),  # syscall number
        (_JGE, 0, 1, 0x40000000),  # the x32 ABI
        (_RET, 0, 0, RET_EPERM),
    ]

    def block(nr: int, body: list[tuple[int, int, int, int]]) -> None:
        prog.append((_JEQ, 0, len(body), nr))
        prog.extend(body)

    def ld_arg0_then(check: tuple[int, int, int, int], on_true: int, on_false: int) -> list[tuple[int, int, int, int]]:
        return [(_LD, 0, 0, _ARG0), check, (_RET, 0, 0, on_true), (_RET, 0, 0, on_false)]

    # the checked calls first: the kernel caches verdicts that do not depend on arguments
    # (the plain allow-list), so only these run the filter, and they find their block at once
    block(CHECKED["prlimit64"][col], ld_arg0_then((_JEQ, 0, 1, 0), RET_ALLOW, RET_EPERM))
    block(CHECKED["clone"][col], ld_arg0_then((_JSET, 0, 1, CLONE_NEW_FLAGS), RET_EPERM, RET_ALLOW))
    for name in ("socket", "socketpair"):
        block(CHECKED[name][col], ld_arg0_then((_JEQ, 0, 1, AF_UNIX), RET_ALLOW, RET_EPERM))
    block(CLONE3[col], [(_RET, 0, 0, RET_ENOSYS)])
    for nrs in ALLOW.values():
        if nrs[col] is not None:
            block(nrs[col], [(_RET, 0, 0, RET_ALLOW)])
    for nrs in DENY.values():
        if nrs[col] is not None:
            block(nrs[col], [(_RET, 0, 0, RET_EPERM)])
    prog.append((_RET, 0, 0, RET_ENOSYS))
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)
