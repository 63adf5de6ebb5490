"""GPU figures: parsed from nvidia-smi when it exists, absent when there is no GPU."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from atrium.observability import gpus
from atrium.observability.metrics import ScrapeTimeCollector, gpu_source

SMI_OUTPUT = "0, NVIDIA H100 80GB HBM3, 87, 40960, 81559\n1, NVIDIA H100 80GB HBM3, [N/A], 1024, 81559\n"


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("gpu", sample.labels.get("collector", ""))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{SMI_OUTPUT}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return script


def test_nvidia_smi_rows_become_ratios_and_bytes():
    first, second = gpus.parse_nvidia_smi(SMI_OUTPUT)
    assert first.index == "0" and first.name == "NVIDIA H100 80GB HBM3"
    assert first.utilization == pytest.approx(0.87)
    assert first.memory_used_bytes == 40960 * 1024 * 1024
    assert first.memory_total_bytes == 81559 * 1024 * 1024
    assert second.utilization is None  # "[N/A]" is not a number, and not a zero either
    assert second.memory_used_bytes == 1024 * 1024 * 1024


def test_malformed_nvidia_smi_lines_are_skipped():
    assert gpus.parse_nvidia_smi("No devices were found\n\n") == []


def test_an_installed_nvidia_smi_is_run_and_exported(fake_nvidia_smi: Path):
    registry = CollectorRegistry()
    registry.register(ScrapeTimeCollector({"gpus": gpu_source}))
    samples = _samples(registry)
    assert samples[("atrium_gpu_utilization_ratio", "0")] == pytest.approx(0.87)
    assert ("atrium_gpu_utilization_ratio", "1") not in samples
    assert samples[("atrium_gpu_memory_used_bytes", "1")] == 1024 * 1024 * 1024
    assert samples[("atrium_collector_up", "gpus")] == 1


def test_without_nvidia_smi_or_a_cuda_device_there_are_no_gpu_series(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gpus.shutil, "which", lambda name: None)
    monkeypatch.setattr(gpus, "torch_samples", lambda: [])
    registry = CollectorRegistry()
    registry.register(ScrapeTimeCollector({"gpus": gpu_source}))
    samples = _samples(registry)
    assert not [name for name, _ in samples if name.startswith("atrium_gpu_")]
    assert samples[("atrium_collector_up", "gpus")] == 1


def test_a_failing_nvidia_smi_marks_the_source_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    registry = CollectorRegistry()
    registry.register(ScrapeTimeCollector({"gpus": gpu_source}))
    assert _samples(registry)[("atrium_collector_up", "gpus")] == 0
