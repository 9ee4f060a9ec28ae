"""Per-run limits, the operator's maximums, and the Linux layers enforcing them in a worker.

Each `apply_*` function confines the calling process one way and returns a short status line
("active: ..." or "inactive: why") that the worker reports to its parent; the docs list them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import platform
import resource
import signal
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from app.engine import RunConfig
from sandbox.errors import LimitExceeded, SandboxError

MIB: Final = 1024 * 1024
NOBODY_UID: Final = 65534


class LimitsRefused(SandboxError):  # noqa: N818  (named for what happened)
    """A requested limit is not a positive number, is below its floor or above the operator's
    maximum."""


MIN_MEMORY_MB: Final = 256
"""The lowest `memory_mb` a run may ask for. Measured beyond the footprint (which holds the
bars): the heaviest example (trend_pullback, five indicators) needs about 96 MB on a year of
one-minute bars (525,600) and fails at 80; 256 leaves room for larger data and strategies.
tests/sandbox/test_memory_floor.py runs every example at it, several times each."""
ADDRESS_SPACE_HEADROOM_MB: Final = 4096
"""Address space allowed beyond the data limit: reservations (PROT_NONE), shared libraries
and thread stacks cost address space, not memory; this bounds shared mappings, which the
data limit does not count."""


@dataclass(frozen=True, slots=True)
class OperatorMaximums:
    """The highest limits a run may ask for (set by whoever runs the server)."""

    wall_seconds: float = 3600.0
    cpu_seconds: float = 3600.0
    memory_mb: int = 16_384
    max_log_lines: int = 100_000
    max_log_line_chars: int = 2_000
    max_log_chars: int = 20_000_000
    max_orders: int = 5_000_000
    max_trades: int = 5_000_000
    max_message_mb: int = 512


@dataclass(frozen=True, slots=True)
class RunLimits:
    """One run's limits: wall-clock and CPU seconds, memory in MB, and record caps.

    `memory_mb` is what the run may allocate beyond the worker's start-up footprint (the
    interpreter with numpy, pandas, the engine and the bars loaded: about 110 MB of data
    segment).
    `max_log_lines` caps the strategy's log (further lines are counted, not kept), as does
    `max_log_chars` (characters of log text per run); `max_log_line_chars` cuts one message
    (see app.engine.logbook);
    `max_orders` and `max_trades` stop the run at the first order or trade past them, so the
    parent never holds or stores more (see app.engine.caps).
    """

    wall_seconds: float = 600.0
    cpu_seconds: float = 300.0
    memory_mb: int = 2048
    max_log_lines: int = 10_000
    max_log_line_chars: int = 1_000
    max_log_chars: int = 2_000_000
    max_orders: int = 200_000
    max_trades: int = 100_000

    def checked(self, maximums: OperatorMaximums) -> RunLimits:
        """Self, after refusing non-positive values, values above `maximums` and a memory
        limit below MIN_MEMORY_MB."""
        pairs = (
            ("wall_seconds", self.wall_seconds, maximums.wall_seconds),
            ("cpu_seconds", self.cpu_seconds, maximums.cpu_seconds),
            ("memory_mb", self.memory_mb, maximums.memory_mb),
            ("max_log_lines", self.max_log_lines, maximums.max_log_lines),
            ("max_log_line_chars", self.max_log_line_chars, maximums.max_log_line_chars),
            ("max_log_chars", self.max_log_chars, maximums.max_log_chars),
            ("max_orders", self.max_orders, maximums.max_orders),
            ("max_trades", self.max_trades, maximums.max_trades),
        )
        for name, value, highest in pairs:
            if not (isinstance(value, int | float) and 0 < value <= highest):
                raise LimitsRefused(f"{name} must be above 0 and at most {highest:g}, got {value}")
        if self.memory_mb < MIN_MEMORY_MB:
            raise LimitsRefused(
                f"memory_mb must be at least {MIN_MEMORY_MB} (what a run needs beyond the "
                f"worker's start-up footprint), got {self.memory_mb}"
            )
        return self

    def bound(self, config: RunConfig) -> RunConfig:
        """`config` with its record caps lowered to these limits' (never raised)."""
        return dataclasses.replace(
            config,
            max_log_lines=min(config.max_log_lines, self.max_log_lines),
            max_log_line_chars=min(config.max_log_line_chars, self.max_log_line_chars),
            max_log_chars=min(config.max_log_chars, self.max_log_chars),
            max_orders=min(config.max_orders, self.max_orders),
            max_trades=min(config.max_trades, self.max_trades),
        )

    def record_budget_bytes(self, maximums: OperatorMaximums) -> int:
        """The most bytes the parent accepts from this run's worker, records and all: a
        quarter of the worker's own memory limit (what the parent builds from a byte is
        several times its size), and never more than the operator's `max_message_mb`."""
        return min(self.memory_mb // 4, maximums.max_message_mb) * MIB


def memory_limit_reached(limits: RunLimits) -> LimitExceeded:
    """The error for a run that ran out of memory, however it surfaced in the worker."""
    return LimitExceeded(
        "memory", limits.memory_mb, "MB", f"memory limit of {limits.memory_mb} MB reached"
    )


def record_limit_exceeded(config: RunConfig, record: str) -> LimitExceeded:
    """The error for a run that made more `record` ("orders" or "trades") than its cap. The cap
    named is the parent's own (`config` as `RunLimits.bound` left it), whatever number the
    worker reported."""
    cap = config.max_trades if record == "trades" else config.max_orders
    return LimitExceeded(record, cap, record, f"limit exceeded: more than {cap} {record}")


def record_budget_exceeded(limits: RunLimits, maximums: OperatorMaximums) -> LimitExceeded:
    """The error for a worker that sent more bytes than the parent's budget for the run."""
    budget_mb = limits.record_budget_bytes(maximums) // MIB
    return LimitExceeded(
        "records", budget_mb, "MB", f"limit exceeded: more than {budget_mb} MB of records"
    )


# -------------------------------------------------------------------------------------------
# rlimits
# -------------------------------------------------------------------------------------------


def _status_bytes(field: str) -> int:
    """A size line of /proc/self/status (`VmSize`, `VmData`) in bytes; 0 where unreadable."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_used_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def apply_rlimits(limits: RunLimits) -> str:
    """CPU seconds from now, memory (start-up footprint + memory_mb), no files or forks.

    Memory is bounded by RLIMIT_DATA (Linux >= 4.7 counts every private writable mapping:
    heap, anonymous mmap, what malloc and numpy allocate), not by address space: allocators
    reserve address space they never use (pyarrow's mimalloc reserved 1 GiB at its first
    allocation, glibc 64 MB per arena, thread stacks and shared libraries are address space
    too), so an RLIMIT_AS limit failed runs that used little memory, depending on which
    reservation came first. RLIMIT_AS stays, ADDRESS_SPACE_HEADROOM_MB above the data
    limit, to bound shared mappings, which RLIMIT_DATA does not count.
    """
    cpu = int(_cpu_used_seconds() + limits.cpu_seconds + 0.999)
    data = _status_bytes("VmData") + limits.memory_mb * MIB
    address_space = _status_bytes("VmSize") + (limits.memory_mb + ADDRESS_SPACE_HEADROOM_MB) * MIB
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past FSIZE fails instead of killing
    settings = (
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL at the hard
        (resource.RLIMIT_DATA, data, data),
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_FSIZE, 0, 0),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NPROC, 0, 0),
        (resource.RLIMIT_NOFILE, 32, 32),
        (resource.RLIMIT_MEMLOCK, 0, 0),
    )
    for kind, soft, hard in settings:
        resource.setrlimit(kind, (soft, hard))
    return (
        f"active: RLIMIT_CPU={cpu}s RLIMIT_DATA={data // MIB}MB RLIMIT_AS={address_space // MIB}MB "
        "RLIMIT_FSIZE=0 RLIMIT_NPROC=0 RLIMIT_NOFILE=32 RLIMIT_CORE=0"
    )


# -------------------------------------------------------------------------------------------
# namespaces and privileges
# -------------------------------------------------------------------------------------------

CLONE_NEWNET: Final = 0x40000000
PR_SET_NO_NEW_PRIVS: Final = 38
PR_SET_DUMPABLE: Final = 4
PR_SET_SECCOMP: Final = 22
SECCOMP_MODE_FILTER: Final = 2


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def enter_empty_network() -> str:
    """A new network namespace with no interfaces up (needs root; skipped otherwise)."""
    if os.geteuid() != 0:
        return "inactive: not root, network namespace unavailable (seccomp blocks sockets)"
    if _libc().unshare(CLONE_NEWNET) != 0:
        return f"inactive: unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    return "active: empty network namespace"


def drop_privileges(needed: Sequence[str]) -> str:
    """Lose root: become `nobody` when it can still read `needed`, else drop every capability.

    A Python installed under /root is unreadable to `nobody`, so there the worker keeps uid 0
    without any capability (it cannot bypass file permissions, trace, mount or signal others).
    """
    if os.geteuid() != 0:
        return f"active: already unprivileged (uid {os.geteuid()})"
    if all(_readable_by_others(path) for path in needed):
        os.setgroups([])
        os.setgid(NOBODY_UID)
        os.setuid(NOBODY_UID)
        return f"active: uid/gid {NOBODY_UID} (nobody), no groups"
    return _drop_capabilities()


def _readable_by_others(path: str) -> bool:
    current = Path(path)
    for part in [current, *current.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        needed = 0o005 if part.is_dir() else 0o004  # others: r-x on directories, r on files
        if mode & needed != needed:
            return False
    return True


PR_CAPBSET_DROP: Final = 24
_SYS_CAPSET: Final = 126
_CAP_VERSION_3: Final = 0x20080522
_LAST_CAP: Final = 63


def _drop_capabilities() -> str:
    libc = _libc()
    os.setgroups([])
    for cap in range(_LAST_CAP + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the kernel's last cap
    header = struct.pack("=Ii", _CAP_VERSION_3, 0)
    data = bytes(24)  # two empty __user_cap_data_struct: effective, permitted, inheritable
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(_SYS_CAPSET, header, data) != 0:
        return f"inactive: capset failed: {os.strerror(ctypes.get_errno())}"
    return "active: uid 0 kept (Python is not readable by nobody) with every capability dropped"


def forbid_new_privileges() -> str:
    """no_new_privs (required for unprivileged seccomp/landlock) and not dumpable."""
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return "inactive: prctl(NO_NEW_PRIVS) failed"
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return "active: no_new_privs, not dumpable"


# -------------------------------------------------------------------------------------------
# landlock: read-only access to the Python installation and the project, nothing else
# -------------------------------------------------------------------------------------------

_LL_CREATE_RULESET: Final = 444
_LL_ADD_RULE: Final = 445
_LL_RESTRICT_SELF: Final = 446
_LL_READ: Final = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE, READ_FILE, READ_DIR


def _landlock_abi(libc: ctypes.CDLL) -> int:
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(_LL_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def _landlock_ruleset(abi: int) -> bytes:
    fs_bits = {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)
    handled_fs = (1 << fs_bits) - 1
    handled_net = 0b11 if abi >= 4 else 0  # BIND_TCP, CONNECT_TCP: none allowed
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals stay in the domain
    if abi >= 6:
        return struct.pack("=QQQ", handled_fs, handled_net, scoped)
    if abi >= 4:
        return struct.pack("=QQ", handled_fs, handled_net)
    return struct.pack("=Q", handled_fs)


def apply_landlock(readable: Sequence[str]) -> str:
    """Deny every write, and reads outside `readable`, TCP bind/connect and outside signals."""
    libc = _libc()
    abi = _landlock_abi(libc)
    if abi < 1 or platform.machine() != "x86_64":
        return "inactive: landlock is not available on this kernel"
    attr = _landlock_ruleset(abi)
    ruleset = int(
        libc.syscall(_LL_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    )
    if ruleset < 0:
        return f"inactive: landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}"
    try:
        for path in readable:
            _landlock_allow_read(libc, ruleset, path)
        if libc.syscall(_LL_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"inactive: landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(ruleset)
    return f"active: landlock ABI {abi}, read-only {len(readable)} paths, no writes, no TCP"


def _landlock_allow_read(libc: ctypes.CDLL, ruleset: int, path: str) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        is_dir = Path(path).is_dir()
        access = _LL_READ if is_dir else (1 << 0) | (1 << 2)
        rule = struct.pack("=Qi", access, fd)  # struct landlock_path_beneath_attr (packed)
        libc.syscall(_LL_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), rule, ctypes.c_uint32(0))
    finally:
        os.close(fd)


def readable_paths() -> list[str]:
    """Where the worker may still read: the interpreter, its packages and the project's code.

    Only the code packages of the project (app/, sandbox/), never its root: the data store,
    the database and any settings file stay unreadable. Paths that contain the project root
    (such as "/" or a parent folder on sys.path) are left out for the same reason.
    """
    project = Path(__file__).resolve().parent.parent
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        str(project / "app"),
        str(project / "sandbox"),
        "/usr/lib",
        "/usr/lib64",
        "/usr/share/zoneinfo",
        "/usr/local/lib",
        "/lib",
        "/lib64",
    }
    candidates.update(p for p in sys.path if p)
    return sorted(
        p
        for p in candidates
        if os.path.exists(p)  # noqa: PTH110  (may be denied)
        and not _contains(Path(p).resolve(), project)
    )


def _contains(folder: Path, inner: Path) -> bool:
    """True when `inner` is `folder` or lies beneath it."""
    return inner == folder or folder in inner.parents


# -------------------------------------------------------------------------------------------
# seccomp: refuse process creation, sockets, namespaces, tracing and kernel-level calls
# -------------------------------------------------------------------------------------------

AUDIT_ARCH_X86_64: Final = 0xC000003E
DENIED_SYSCALLS_X86_64: Final = {
    "socket": 41,
    "connect": 42,
    "accept": 43,
    "bind": 49,
    "listen": 50,
    "socketpair": 53,
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "ptrace": 101,
    "personality": 135,
    "pivot_root": 155,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "accept4": 288,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "clone3": 435,
    # signals to other processes (landlock also scopes signals where the kernel has ABI 6)
    "kill": 62,
    "rt_sigqueueinfo": 129,
    "tkill": 200,
    "tgkill": 234,
    "rt_tgsigqueueinfo": 297,
    "kcmp": 312,
    "pidfd_send_signal": 424,
    "pidfd_open": 434,
    "pidfd_getfd": 438,
}
_EPERM: Final = 1
_SYS_SECCOMP: Final = 317


def seccomp_program() -> bytes:
    """A classic-BPF filter: kill on a foreign ABI, EPERM for denied calls, allow the rest."""

    def op(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    errno = 0x00050000 | _EPERM
    program = [
        op(ld_abs, 0, 0, 4),  # seccomp_data.arch
        op(jeq, 1, 0, AUDIT_ARCH_X86_64),
        op(ret, 0, 0, 0x80000000),  # SECCOMP_RET_KILL_PROCESS
        op(ld_abs, 0, 0, 0),  # seccomp_data.nr
        op(jge, 0, 1, 0x40000000),  # the x32 ABI
        op(ret, 0, 0, errno),
    ]
    for number in sorted(DENIED_SYSCALLS_X86_64.values()):
        program += [op(jeq, 0, 1, number), op(ret, 0, 0, errno)]
    program.append(op(ret, 0, 0, 0x7FFF0000))  # SECCOMP_RET_ALLOW
    return b"".join(program)


def apply_seccomp() -> str:
    """Install the seccomp filter on this process (x86_64 only)."""
    if platform.machine() != "x86_64":
        return f"inactive: no seccomp filter for {platform.machine()}"
    program = seccomp_program()
    buffer = ctypes.create_string_buffer(program, len(program))
    count = len(program) // 8

    class SockFprog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = SockFprog(count, ctypes.addressof(buffer))
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC): every thread, not just this one
    if libc.syscall(_SYS_SECCOMP, 1, 1, ctypes.byref(fprog)) != 0:
        return f"inactive: seccomp failed: {os.strerror(ctypes.get_errno())}"
    return (
        f"active: seccomp filter (all threads) denying {len(DENIED_SYSCALLS_X86_64)} system calls"
    )
