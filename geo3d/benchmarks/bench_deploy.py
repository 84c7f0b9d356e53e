"""The ``deploy`` suite of geo3d benchmark: per exportable detector config, latency per
scene of the index work (``export_inputs``), of the core in each runtime present (PyTorch,
onnxruntime, TensorRT fp32 and fp16 where installed with a GPU) and of decoding with NMS,
on a synthetic_lidar validation scene. Weights are random (latency does not depend on
them beyond the number of boxes NMS sees)."""

from __future__ import annotations

import os
import tempfile

import torch

from geo3d.benchmarks.bench_timing import median_ms

DEPLOY_CONFIGS = (
    "pointpillars_synthetic",
    "dsvt_pillar_synthetic",
    "pvt_pillar_synthetic",
    "centerpoint_voxel_synthetic",
    "dsvt_voxel_synthetic",
)


def bench_deploy(repeats: int, quick: bool, configs=DEPLOY_CONFIGS):
    """Rows of ``(config, voxels, stage, runtime, ms)``; stage is ``preprocess``, ``core``,
    ``postprocess`` or ``total``."""
    from geo3d.data.synthetic import SyntheticLidar
    from geo3d.engine import load_config
    from geo3d.engine.config import config_to_dict
    from geo3d.export import export_detector, load_deployed, tensorrt_available
    from geo3d.export.exporter import read_manifest
    from geo3d.export.runtime import DeployedDetector, TensorRTRuntime
    from geo3d.export.tensorrt import build_tensorrt_engine
    from geo3d.models import create_model

    scene = SyntheticLidar("val", frames=1)[0]["points"]
    if quick:
        scene = scene[::8].contiguous()
    rows = []
    for name in configs[:1] if quick else configs:
        config = load_config(name)
        torch.manual_seed(0)
        model = create_model(config.model.name, num_classes=3, **config.model.options).eval()
        with tempfile.TemporaryDirectory() as directory:
            export_detector(
                model,
                [scene],
                directory,
                config=config_to_dict(config),
                classes=list(SyntheticLidar.classes),
                build_engine=False,
            )
            runtimes = {"torch": load_deployed(directory, "torch", detector=model)}
            runtimes["onnxruntime"] = load_deployed(directory, "onnxruntime")
            if tensorrt_available():
                manifest = read_manifest(directory)
                for precision in ("fp32", "fp16"):
                    engine = os.path.join(directory, f"model_{precision}.plan")
                    onnx_path = os.path.join(directory, "model.onnx")
                    build_tensorrt_engine(onnx_path, engine, manifest, precision == "fp16")
                    runtimes[f"tensorrt {precision}"] = DeployedDetector(
                        model, TensorRTRuntime(engine), manifest
                    )
            deployed = runtimes["torch"]
            inputs = deployed.prepare(scene)
            voxels = int(inputs["voxel_rows"].shape[0])
            outputs = deployed.runtime(inputs)
            sync = torch.cuda.is_available()
            rows.append(
                (
                    name,
                    voxels,
                    "preprocess",
                    "native",
                    median_ms(lambda: deployed.prepare(scene), repeats),
                )
            )
            rows.append(
                (
                    name,
                    voxels,
                    "postprocess",
                    "native",
                    median_ms(lambda: deployed.postprocess(outputs), repeats),
                )
            )
            for runtime, path in runtimes.items():
                core = median_ms(lambda path=path: path.runtime(inputs), repeats, sync)
                total = median_ms(lambda path=path: path(scene), repeats, sync)
                rows.append((name, voxels, "core", runtime, core))
                rows.append((name, voxels, "total", runtime, total))
    return rows


def deploy_table(rows) -> list[str]:
    """The printed table of :func:`bench_deploy`'s rows, with what its columns mean."""
    lines = [
        "one synthetic_lidar scene at a time; preprocess = the index work outside the",
        "graph, core = the exported tensor core, total = preprocess + core + decoding",
        "| config | voxels | stage | runtime | ms per scene |",
        "|---|---|---|---|---|",
    ]
    for name, voxels, stage, runtime, ms in rows:
        lines.append(f"| {name} | {voxels:,} | {stage} | {runtime} | {ms:.1f} |")
    return lines
