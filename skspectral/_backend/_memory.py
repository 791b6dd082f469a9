"""Memory this process may still allocate: the least of every limit that applies.

The machine's free memory (psutil) is not the whole story: a process can be
held to less by its address-space limit (``ulimit -v``, ``RLIMIT_AS``) or by
the memory limit of its control group (a container, a batch job's slot). An
output that fits the machine but not the limit would fail inside NumPy with
a raw :class:`MemoryError` (or get the process killed), so
:func:`available_memory` takes the least of:

- :func:`machine_available`: psutil's available memory;
- :func:`address_space_available`: the soft ``RLIMIT_AS`` minus the
  process's current virtual size;
- :func:`cgroup_v2_available`: ``memory.max`` minus what the cgroup uses,
  over the process's cgroup v2 and its ancestors;
- :func:`cgroup_v1_available`: ``memory.limit_in_bytes`` minus
  ``memory.usage_in_bytes``, likewise for cgroup v1.

Each source returns None when it sets no limit: "max", a value of
:data:`NO_LIMIT` or more (cgroup v1 writes about 2**63 for none), or a file
that cannot be read. A cgroup's usage counts its page cache; the part of it
the kernel drops first (``inactive_file`` of ``memory.stat``) is not counted
as used, as ``kubelet`` and ``docker stats`` do.
"""

import os
import sys

#: A limit of this many bytes (1 EiB) or more is no limit.
NO_LIMIT = 2**60

#: Where the cgroup file systems are mounted.
CGROUP_ROOT = "/sys/fs/cgroup"
#: cgroup v1 mounts its memory controller here.
CGROUP_V1_MEMORY_ROOT = "/sys/fs/cgroup/memory"
#: The process's own cgroups, one ``hierarchy:controllers:path`` line each.
PROC_SELF_CGROUP = "/proc/self/cgroup"


def machine_available():
    """Bytes of memory the machine has available now (psutil's estimate)."""
    import psutil

    return int(psutil.virtual_memory().available)


def address_space_available():
    """Bytes of address space left under the soft ``RLIMIT_AS``; None without one."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0 or soft >= NO_LIMIT:
        return None
    import psutil

    return max(0, int(soft) - int(psutil.Process().memory_info().vms))


def read_limit(path):
    """A byte count or limit from a cgroup file; None for "max", absurd values or no file."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        value = int(text)
    except ValueError:
        return None  # "max", or anything else not a number
    return value if 0 <= value < NO_LIMIT else None


def read_stat(path, key):
    """The value of ``key`` in a ``memory.stat`` file (``key value`` lines); 0 if absent."""
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return max(0, int(value))
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    return 0


def own_cgroup(controller=None, proc_cgroup=PROC_SELF_CGROUP):
    """The process's cgroup path (``"/a/b"``), or None if unknown.

    ``controller=None`` reads the cgroup v2 line (``0::/path``); a name such
    as ``"memory"`` reads the cgroup v1 line whose controllers include it.
    """
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if controller is None and hierarchy == "0" and controllers == "":
            return path or "/"
        if controller is not None and controller in controllers.split(","):
            return path or "/"
    return None


def cgroup_dirs(root, path):
    """The cgroup directories that bound a process in ``path``: its own, then each parent up to ``root``.

    A container often sees its own cgroup mounted at ``root`` while
    ``/proc/self/cgroup`` names the host's path: directories that do not
    exist are skipped, and ``root`` itself always closes the list.
    """
    parts = [p for p in (path or "").split("/") if p and p not in (".", "..")]
    dirs = [os.path.join(root, *parts[:i]) for i in range(len(parts), 0, -1)]
    return [d for d in dirs if os.path.isdir(d)] + [root]


def cgroup_headroom(dirs, limit_file, usage_file, stat_key):
    """Least of ``limit - usage`` over ``dirs`` (None if none sets a limit).

    ``usage`` leaves out the page cache the kernel reclaims first
    (``stat_key`` of ``memory.stat``); an unreadable usage counts as 0.
    """
    headroom = None
    for directory in dirs:
        limit = read_limit(os.path.join(directory, limit_file))
        if limit is None:
            continue
        used = read_limit(os.path.join(directory, usage_file)) or 0
        used = max(0, used - read_stat(os.path.join(directory, "memory.stat"), stat_key))
        room = max(0, limit - used)
        headroom = room if headroom is None else min(headroom, room)
    return headroom


def cgroup_v2_available(root=CGROUP_ROOT, proc_cgroup=PROC_SELF_CGROUP):
    """Bytes left under the cgroup v2 ``memory.max`` of this process (and its ancestors)."""
    path = own_cgroup(None, proc_cgroup)
    if path is None:
        return None
    return cgroup_headroom(cgroup_dirs(root, path), "memory.max", "memory.current",
                           "inactive_file")


def cgroup_v1_available(root=CGROUP_V1_MEMORY_ROOT, proc_cgroup=PROC_SELF_CGROUP):
    """Bytes left under the cgroup v1 ``memory.limit_in_bytes`` of this process (and ancestors)."""
    path = own_cgroup("memory", proc_cgroup)
    return cgroup_headroom(cgroup_dirs(root, path or "/"), "memory.limit_in_bytes",
                           "memory.usage_in_bytes", "total_inactive_file")


def memory_limits():
    """Bytes available under each source that sets a limit now, by source name."""
    sources = {"machine": machine_available, "address space": address_space_available}
    if sys.platform.startswith("linux"):
        sources.update({"cgroup v2": cgroup_v2_available, "cgroup v1": cgroup_v1_available})
    limits = {}
    for name, source in sources.items():
        value = source()
        if value is not None:
            limits[name] = int(value)
    return limits


def available_memory():
    """Bytes of memory this process may still allocate: the least of :func:`memory_limits`."""
    return min(memory_limits().values())
