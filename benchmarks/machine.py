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


def machine_info(device: str) -> dict:
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "processor": platform.processor(),
        "cpu": cpu_name(),
        "uname": platform.uname()._asdict(),
        "cpu_count": os.cpu_count(),
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


