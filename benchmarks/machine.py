"""Machine description shared by the benchmarks (CPU model, threads, load, GPU)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

import torch


def cpu_name() -> str:
    name = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def cpu_flags() -> list[str]:
    """The CPU's feature flags (/proc/cpuinfo), e.g. avx512f, avx512_bf16, amx_bf16."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return sorted(line.split(":", 1)[1].split())
    except OSError:
        pass
    return []


SIMD = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "asimd", "sve")


def machine_info(device: str) -> dict:
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "processor": platform.processor(),
        "cpu": cpu_name(),
        "uname": platform.uname()._asdict(),
        "cpu_count": os.cpu_count(),
        "cpu_flags_simd": [f for f in SIMD if f in cpu_flags()],
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "device": device,
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cuda_matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    else:
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


