"""Memory available to the process: machine, address-space limit and cgroup limits."""

import subprocess
import sys
import textwrap

import pytest

import skspectral._backend._memory as memory

GiB = 2**30


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------ parsers
@pytest.mark.parametrize(
    "text, expected",
    [
        ("1073741824\n", GiB),
        ("0\n", 0),
        ("max\n", None),  # cgroup v2: no limit
        ("9223372036854771712\n", None),  # cgroup v1: no limit (2**63 rounded to a page)
        ("not a number\n", None),
        ("", None),
    ],
)
def test_read_limit(tmp_path, text, expected):
    assert memory.read_limit(_write(tmp_path / "memory.max", text)) == expected


def test_read_limit_of_a_missing_or_unreadable_file_is_no_limit(tmp_path):
    assert memory.read_limit(tmp_path / "absent") is None
    assert memory.read_limit(tmp_path) is None  # a directory
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    assert memory.read_limit(tmp_path / "binary") is None


def test_read_stat(tmp_path):
    stat = _write(tmp_path / "memory.stat", "anon 5\ninactive_file 300\nactive_file 7\n")
    assert memory.read_stat(stat, "inactive_file") == 300
    assert memory.read_stat(stat, "total_inactive_file") == 0
    assert memory.read_stat(tmp_path / "absent", "inactive_file") == 0


PROC_HYBRID = "9:systemd:/\n4:memory:/jobs/42\n3:cpu,cpuacct:/\n0::/user.slice/app\n"


def test_own_cgroup(tmp_path):
    proc = _write(tmp_path / "cgroup", PROC_HYBRID)
    assert memory.own_cgroup(None, proc) == "/user.slice/app"
    assert memory.own_cgroup("memory", proc) == "/jobs/42"
    assert memory.own_cgroup("pids", proc) is None
    assert memory.own_cgroup(None, _write(tmp_path / "v1", "4:memory:/a\n")) is None
    assert memory.own_cgroup("memory", _write(tmp_path / "co", "3:cpu,memory:/b\n")) == "/b"
    assert memory.own_cgroup(None, tmp_path / "absent") is None


def _cgroup_v2(root, path, max_, current, inactive=None):
    directory = root.joinpath(*[p for p in path.split("/") if p])
    _write(directory / "memory.max", max_)
    _write(directory / "memory.current", current)
    if inactive is not None:
        _write(directory / "memory.stat", f"anon 1\ninactive_file {inactive}\n")


def test_cgroup_v2_limit_of_the_process_cgroup(tmp_path):
    root = tmp_path / "cgroup"
    proc = _write(tmp_path / "proc", "0::/job/step\n")
    _cgroup_v2(root, "/job/step", str(4 * GiB), str(GiB))
    assert memory.cgroup_v2_available(root, proc) == 3 * GiB
    # The reclaimable page cache does not count as used.
    _cgroup_v2(root, "/job/step", str(4 * GiB), str(GiB), inactive=GiB // 2)
    assert memory.cgroup_v2_available(root, proc) == 3 * GiB + GiB // 2
    # A parent's tighter limit binds.
    _cgroup_v2(root, "/job", str(2 * GiB), str(GiB + GiB // 4))
    assert memory.cgroup_v2_available(root, proc) == GiB - GiB // 4
    # Over its limit: nothing left, not a negative size.
    _cgroup_v2(root, "/job", str(GiB), str(2 * GiB))
    assert memory.cgroup_v2_available(root, proc) == 0


def test_cgroup_v2_without_a_limit(tmp_path):
    root = tmp_path / "cgroup"
    proc = _write(tmp_path / "proc", "0::/job\n")
    _cgroup_v2(root, "/job", "max\n", str(GiB))
    assert memory.cgroup_v2_available(root, proc) is None
    assert memory.cgroup_v2_available(tmp_path / "nowhere", proc) is None
    assert memory.cgroup_v2_available(root, tmp_path / "absent") is None
    # Only a v1 hierarchy: no v2 line.
    assert memory.cgroup_v2_available(root, _write(tmp_path / "v1", "4:memory:/\n")) is None


def test_cgroup_v2_in_a_container_reads_its_mounted_root(tmp_path):
    # /proc/self/cgroup names the host's path, the container mounts its own
    # cgroup at the root.
    root = tmp_path / "cgroup"
    proc = _write(tmp_path / "proc", "0::/docker/0123abcd\n")
    _cgroup_v2(root, "/", str(3 * GiB), str(GiB))
    assert memory.cgroup_v2_available(root, proc) == 2 * GiB
    # A memory.max without a readable memory.current still bounds.
    (root / "memory.current").unlink()
    assert memory.cgroup_v2_available(root, proc) == 3 * GiB


def test_cgroup_v1_limit(tmp_path):
    root = tmp_path / "memory"
    proc = _write(tmp_path / "proc", "4:memory:/jobs/42\n0::/\n")
    _write(root / "memory.limit_in_bytes", "9223372036854771712\n")
    _write(root / "memory.usage_in_bytes", str(20 * GiB))
    assert memory.cgroup_v1_available(root, proc) is None
    job = root / "jobs" / "42"
    _write(job / "memory.limit_in_bytes", str(2 * GiB))
    _write(job / "memory.usage_in_bytes", str(GiB))
    _write(job / "memory.stat", f"inactive_file 5\ntotal_inactive_file {GiB // 4}\n")
    assert memory.cgroup_v1_available(root, proc) == GiB + GiB // 4
    # The root of the brief's layout: /sys/fs/cgroup/memory/memory.limit_in_bytes.
    _write(root / "memory.limit_in_bytes", str(GiB))
    _write(root / "memory.usage_in_bytes", str(GiB // 2))
    assert memory.cgroup_v1_available(root, proc) == GiB // 2
    assert memory.cgroup_v1_available(tmp_path / "nowhere", proc) is None


def test_address_space_limit(monkeypatch):
    resource = pytest.importorskip("resource")
    psutil = pytest.importorskip("psutil")
    vms = psutil.Process().memory_info().vms
    monkeypatch.setattr(resource, "getrlimit", lambda which: (vms + 2 * GiB, resource.RLIM_INFINITY))
    assert GiB < memory.address_space_available() <= 2 * GiB
    monkeypatch.setattr(resource, "getrlimit", lambda which: (vms // 2, resource.RLIM_INFINITY))
    assert memory.address_space_available() == 0
    monkeypatch.setattr(resource, "getrlimit",
                        lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert memory.address_space_available() is None


def test_available_memory_is_the_least_limit(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(memory, "machine_available", lambda: 16 * GiB)
    monkeypatch.setattr(memory, "address_space_available", lambda: None)
    monkeypatch.setattr(memory, "cgroup_v2_available", lambda: None)
    monkeypatch.setattr(memory, "cgroup_v1_available", lambda: None)
    assert memory.available_memory() == 16 * GiB
    monkeypatch.setattr(memory, "cgroup_v2_available", lambda: 3 * GiB)
    assert memory.available_memory() == 3 * GiB
    monkeypatch.setattr(memory, "address_space_available", lambda: GiB)
    assert memory.available_memory() == GiB
    monkeypatch.setattr(memory, "cgroup_v1_available", lambda: 0)
    assert memory.available_memory() == 0
    assert memory.memory_limits() == {"machine": 16 * GiB, "address space": GiB,
                                      "cgroup v2": 3 * GiB, "cgroup v1": 0}


def test_cgroup_limit_refuses_an_output(monkeypatch):
    from skspectral._backend import OutputTooLargeError, check_output_size

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(memory, "cgroup_v2_available", lambda: 100 * 2**20)
    check_output_size(1000, 64, "float64", what="f()")
    with pytest.raises(OutputTooLargeError, match="more than the 0.1 GiB"):
        check_output_size(10**6, 64, "float64", what="f()")


# ------------------------------------------------------------ a real limit
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as on Linux")
def test_address_space_limit_refuses_a_draw_before_numpy_fails():
    # A fresh process (the limit cannot be lifted again): 1.5 GiB of address
    # space left, then a draw of 10**8 x 4 float64 (3 GiB).
    code = textwrap.dedent(
        """
        import resource
        import numpy as np
        import psutil
        from skspectral import CoefficientPrior
        from skspectral._backend import OutputTooLargeError

        prior = CoefficientPrior("gaussian", random_state=0).fit(
            np.random.RandomState(0).rand(50, 4))
        prior.sample(10, random_state=0)
        vms = psutil.Process().memory_info().vms
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vms + 3 * 2**29, hard))
        assert prior.sample(1000, random_state=0).shape == (1000, 4)
        try:
            prior.sample(10**8, random_state=0)
        except OutputTooLargeError as exc:
            print("refused:", exc)
        except MemoryError as exc:
            print("raw MemoryError:", type(exc).__name__, exc)
        else:
            print("drawn")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: CoefficientPrior.sample(n_samples=100000000)"), (
        result.stdout)
    assert "more than the 1." in result.stdout  # about 1.5 GiB left, not the machine's
