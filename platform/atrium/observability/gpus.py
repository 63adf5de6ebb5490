"""GPU utilisation and memory: from nvidia-smi when it is on PATH, else from an already-imported torch.

Nothing is reported on a machine without a GPU, so the series are absent rather than zero.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

NVIDIA_SMI_QUERY = "index,name,utilization.gpu,memory.used,memory.total"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuSample:
    index: str
    name: str
    utilization: float | None  # 0..1; None when the driver does not say
    memory_used_bytes: float | None
    memory_total_bytes: float | None


def _number(text: str) -> float | None:
    text = text.strip()
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def parse_nvidia_smi(text: str) -> list[GpuSample]:
    """Rows of `nvidia-smi --query-gpu=<NVIDIA_SMI_QUERY> --format=csv,noheader,nounits` (MiB, percent)."""
    samples = []
    for line in text.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 5:
            continue
        index, name, util, used, total = fields
        util_value, used_value, total_value = _number(util), _number(used), _number(total)
        samples.append(
            GpuSample(
                index=index,
                name=name,
                utilization=None if util_value is None else util_value / 100.0,
                memory_used_bytes=None if used_value is None else used_value * _MIB,
                memory_total_bytes=None if total_value is None else total_value * _MIB,
            )
        )
    return samples


def nvidia_smi_samples(timeout_s: float = 5.0) -> list[GpuSample] | None:
    """None when nvidia-smi is not installed; raises when it is installed but fails."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    completed = subprocess.run(
        [executable, f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return parse_nvidia_smi(completed.stdout)


def torch_samples() -> list[GpuSample]:
    """From torch.cuda, only in a process that already uses CUDA.

    Never initialise CUDA here: importing torch just to look is slow, and a prefork worker's parent that
    touched CUDA would hand its children a context that does not survive fork().
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return []
    samples = []
    for index in range(torch.cuda.device_count()):
        try:
            utilization: float | None = torch.cuda.utilization(index) / 100.0  # needs pynvml
        except Exception:
            utilization = None
        free, total = torch.cuda.mem_get_info(index)
        samples.append(
            GpuSample(
                index=str(index),
                name=torch.cuda.get_device_name(index),
                utilization=utilization,
                memory_used_bytes=float(total - free),
                memory_total_bytes=float(total),
            )
        )
    return samples


def gpu_samples() -> list[GpuSample]:
    samples = nvidia_smi_samples()
    return torch_samples() if samples is None else samples


def gpu_metrics(samples: list[GpuSample]) -> Iterator[Metric]:
    """Families only for what the samples carry; no GPU gives no series at all."""
    if not samples:
        return
    families = {
        "utilization": GaugeMetricFamily(
            "atrium_gpu_utilization_ratio", "Fraction of time a GPU kernel ran (0..1)", labels=["gpu", "name"]
        ),
        "memory_used_bytes": GaugeMetricFamily(
            "atrium_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu", "name"]
        ),
        "memory_total_bytes": GaugeMetricFamily(
            "atrium_gpu_memory_total_bytes", "GPU memory in all", labels=["gpu", "name"]
        ),
    }
    for sample in samples:
        for attribute, family in families.items():
            value = getattr(sample, attribute)
            if value is not None:
                family.add_metric([sample.index, sample.name], value)
    for family in families.values():
        if family.samples:
            yield family
