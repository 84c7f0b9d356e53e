"""Speed tables of geo3d against the peers installed here.

    geo3d benchmark ops [--repeats 5] [--quick] [--markdown]
    geo3d benchmark models [--repeats 3]     # Point-NN / Point-PN, 32 x 1024 points
    geo3d benchmark mesh [--repeats 3]       # MeshCNN preparation and pooling
    geo3d benchmark pooling [--repeats 3]    # SoftPool grids, attention over voxels
    geo3d benchmark boxes [--repeats 3]      # rotated IoU, NMS, points in boxes
    geo3d benchmark sparse [--repeats 3]     # SECOND's sparse backbone vs spconv
    geo3d benchmark detector [--config pointpillars_synthetic]
                                              # training scenes/s, latency per scene
    geo3d benchmark deploy [--repeats 5]     # exported detectors per runtime

Each row times one op at one size with geo3d (CPU, and CUDA where present) and with
every peer that is installed, in the same run, and prints the ratio of the best peer's
median time to geo3d's (> 1: geo3d is faster). Peers: fpsample and Open3D for FPS;
SciPy's cKDTree, pykdtree and Open3D for kNN; spconv's PointToVoxel for voxelization;
the same reduction composed of torch ops (scatter_reduce, index_add) for scatter.
Peers that are missing are shown as '-' (`pip install "geo3d[dev]"` installs them).
Times are medians of --repeats runs after one warm-up run (more runs, up to 200, for
fast calls, until a quarter of a second was measured).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from geo3d import ops
from geo3d.benchmarks.bench_boxes import bench_boxes, bench_kitti_eval
from geo3d.benchmarks.bench_deploy import bench_deploy, deploy_table
from geo3d.benchmarks.bench_detector import bench_detector
from geo3d.benchmarks.bench_mesh import (  # noqa: F401  (BUNNY, VARIANT_MESHES: for the tests)
    BUNNY,
    VARIANT_MESHES,
    bench_mesh,
    bench_mesh_variants,
)
from geo3d.benchmarks.bench_models import bench_models
from geo3d.benchmarks.bench_packed import bench_packed
from geo3d.benchmarks.bench_pooling import bench_pooling
from geo3d.benchmarks.bench_sparse import bench_sparse
from geo3d.benchmarks.bench_timing import median_ms
from geo3d.engine.cli import tool_parser
from geo3d.paths import shared_data_dir

KITTI_RANGE = [0.0, -40.0, -3.0, 70.4, 40.0, 1.0]
DEFAULT_DETECTOR_CONFIG = "pointpillars_synthetic"


@dataclass
class Row:
    op: str
    size: str
    geo3d_ms: float
    peers: dict[str, float | None] = field(default_factory=dict)
    cuda_ms: float | None = None


def optional(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except Exception:  # noqa: BLE001 (a peer that fails to import is simply absent)
        return None


def kitti_like_sweep(num_points: int = 120_000, seed: int = 0) -> torch.Tensor:
    """A LiDAR-like sweep: rings of points on a ground plane and objects, with intensity."""
    shared = os.path.join(shared_data_dir(), "kitti", "training", "velodyne", "000000.bin")
    if os.path.exists(shared):
        points = np.fromfile(shared, dtype=np.float32).reshape(-1, 4)
        return torch.from_numpy(points[:num_points].copy())
    g = np.random.default_rng(seed)
    angle = g.uniform(-np.pi, np.pi, num_points)
    radius = 2 + 70 * g.random(num_points) ** 2
    z = g.normal(-1.7, 0.3, num_points)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle), z, g.random(num_points)], 1)
    return torch.from_numpy(points.astype(np.float32))


def time_on_cuda(
    fn: Callable[..., object], tensors: list[torch.Tensor], repeats: int
) -> float | None:
    """Time ``fn(*tensors)`` with the tensors moved to the GPU; None without one."""
    if not torch.cuda.is_available():
        return None
    moved = [t.cuda() for t in tensors]
    return median_ms(lambda: fn(*moved), repeats, sync_cuda=True)


def bench_fps(repeats: int, quick: bool) -> list[Row]:
    fpsample = optional("fpsample")
    o3d = optional("open3d")
    rows = []
    sizes = (
        [(8192, 2048), (65536, 16384), (65536, 4096)]
        if quick
        else [(8192, 2048), (65536, 16384), (262144, 65536), (262144, 16384)]
    )
    g = torch.Generator().manual_seed(0)
    for n, m in sizes:
        xyz = torch.rand(1, n, 3, generator=g) * torch.tensor([70.0, 80.0, 4.0])
        array = xyz[0].numpy()
        peers: dict[str, float | None] = {}
        peers["fpsample (bucket)"] = (
            median_ms(lambda: fpsample.bucket_fps_kdline_sampling(array, m, h=7), repeats)
            if fpsample
            else None
        )
        if o3d is not None and n * m <= 65536 * 16384:
            cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(array.astype(np.float64)))
            peers["Open3D"] = median_ms(
                lambda: cloud.farthest_point_down_sample(m), max(1, repeats // 3)
            )
        else:
            peers["Open3D"] = None
        rows.append(
            Row(
                "fps",
                f"{n // 1024}k -> {m // 1024}k",
                median_ms(lambda: ops.farthest_point_sample(xyz, m), repeats),
                peers,
                time_on_cuda(lambda x: ops.farthest_point_sample(x, m), [xyz], repeats),
            )
        )
    batch = torch.rand(32, 1024, 3, generator=g)
    arrays = [batch[i].numpy() for i in range(32)]
    peers = {
        "fpsample (bucket)": median_ms(
            lambda: [fpsample.bucket_fps_kdline_sampling(a, 512, h=5) for a in arrays], repeats
        )
        if fpsample
        else None,
        "Open3D": None,
    }
    if o3d is not None:
        clouds = [
            o3d.geometry.PointCloud(o3d.utility.Vector3dVector(a.astype(np.float64)))
            for a in arrays
        ]
        peers["Open3D"] = median_ms(
            lambda: [c.farthest_point_down_sample(512) for c in clouds], repeats
        )
    rows.append(
        Row(
            "fps",
            "32 x 1024 -> 512",
            median_ms(lambda: ops.farthest_point_sample(batch, 512), repeats),
            peers,
            time_on_cuda(lambda x: ops.farthest_point_sample(x, 512), [batch], repeats),
        )
    )
    return rows


def bench_knn(repeats: int, quick: bool) -> list[Row]:
    spatial = optional("scipy.spatial")
    pykdtree = optional("pykdtree.kdtree")
    o3d = optional("open3d")
    workers = torch.get_num_threads()
    rows = []
    g = torch.Generator().manual_seed(1)
    cases = [(8192, 16), (8192, 32), (65536, 16), (65536, 32)]
    if quick:
        cases = cases[:3]
    for n, k in cases:
        xyz = torch.rand(1, n, 3, generator=g) * torch.tensor([70.0, 80.0, 4.0])
        array = xyz[0].numpy()
        peers: dict[str, float | None] = {}
        peers["scipy cKDTree"] = (
            median_ms(lambda: spatial.cKDTree(array).query(array, k=k, workers=workers), repeats)
            if spatial
            else None
        )
        peers["pykdtree"] = (
            median_ms(lambda: pykdtree.KDTree(array).query(array, k=k), repeats)
            if pykdtree
            else None
        )
        peers["Open3D"] = None
        if o3d is not None:
            points = o3d.core.Tensor(array)

            def open3d_knn():
                index = o3d.core.nns.NearestNeighborSearch(points)
                index.knn_index()
                return index.knn_search(points, k)

            peers["Open3D"] = median_ms(open3d_knn, repeats)
        rows.append(
            Row(
                "knn",
                f"{n // 1024}k, k={k}",
                median_ms(lambda: ops.knn(xyz, xyz, k), repeats),
                peers,
                time_on_cuda(lambda x: ops.knn(x, x, k), [xyz], repeats),
            )
        )
    batch = torch.rand(32, 1024, 3, generator=g)
    arrays = [batch[i].numpy() for i in range(32)]
    peers = {
        "scipy cKDTree": median_ms(
            lambda: [spatial.cKDTree(a).query(a, k=24, workers=workers) for a in arrays], repeats
        )
        if spatial
        else None,
        "pykdtree": median_ms(lambda: [pykdtree.KDTree(a).query(a, k=24) for a in arrays], repeats)
        if pykdtree
        else None,
        "Open3D": None,
    }
    rows.append(
        Row(
            "knn",
            "32 x 1024, k=24",
            median_ms(lambda: ops.knn(batch, batch, 24), repeats),
            peers,
            time_on_cuda(lambda x: ops.knn(x, x, 24), [batch], repeats),
        )
    )
    return rows


def bench_voxelize(repeats: int, quick: bool) -> list[Row]:
    spconv_utils = optional("spconv.pytorch.utils")
    points = kitti_like_sweep()
    rows = []
    settings = [
        ("voxels 0.05x0.05x0.1, 5 pts", [0.05, 0.05, 0.1], 5, 16000),
        ("pillars 0.16, 32 pts", [0.16, 0.16, 4.0], 32, 16000),
    ]
    for label, size, max_points, max_voxels in settings:
        peers: dict[str, float | None] = {"spconv PointToVoxel": None}
        if spconv_utils is not None:
            generator = spconv_utils.PointToVoxel(
                vsize_xyz=size,
                coors_range_xyz=KITTI_RANGE,
                num_point_features=4,
                max_num_voxels=max_voxels,
                max_num_points_per_voxel=max_points,
            )
            peers["spconv PointToVoxel"] = median_ms(lambda: generator(points), repeats)
        rows.append(
            Row(
                "voxelize",
                f"{points.shape[0] // 1000}k pts, {label}",
                median_ms(
                    lambda: ops.voxelize(points, size, KITTI_RANGE, max_points, max_voxels), repeats
                ),
                peers,
                time_on_cuda(
                    lambda p: ops.voxelize(p, size, KITTI_RANGE, max_points, max_voxels),
                    [points],
                    repeats,
                ),
            )
        )
    rows.append(
        Row(
            "dynamic_voxelize",
            f"{points.shape[0] // 1000}k pts, 0.05x0.05x0.1",
            median_ms(
                lambda: ops.dynamic_voxelize(points, [0.05, 0.05, 0.1], KITTI_RANGE), repeats
            ),
            {},
            time_on_cuda(
                lambda p: ops.dynamic_voxelize(p, [0.05, 0.05, 0.1], KITTI_RANGE), [points], repeats
            ),
        )
    )
    return rows


def bench_scatter(repeats: int, quick: bool) -> list[Row]:
    """Segment reductions against the same reduction written with torch's own ops."""
    g = torch.Generator().manual_seed(2)
    rows = []
    cases = [(200_000, 64, 20_000), (1_000_000, 4, 100_000)]
    for n, channels, segments in cases[:1] if quick else cases:
        src = torch.randn(n, channels, generator=g)
        index = torch.randint(0, segments, (n,), generator=g)
        for reduce in ("sum", "max", "soft"):
            peers = {
                "torch ops": median_ms(
                    lambda: ops.scatter_reference(src, index, segments, reduce), repeats
                )
            }
            rows.append(
                Row(
                    f"scatter {reduce}",
                    f"{n // 1000}k x {channels} -> {segments // 1000}k",
                    median_ms(lambda: ops.scatter(src, index, segments, reduce), repeats),
                    peers,
                    time_on_cuda(
                        lambda s, i: ops.scatter(s, i, segments, reduce), [src, index], repeats
                    ),
                )
            )
    return rows


def bench_packed_rows(repeats: int, quick: bool) -> list[Row]:
    return [Row(*row) for row in bench_packed(repeats, kitti_like_sweep(), optional, time_on_cuda)]


def format_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(rows: list[Row], markdown: bool) -> None:
    peer_names: list[str] = []
    for row in rows:
        for name in row.peers:
            if name not in peer_names:
                peer_names.append(name)
    with_cuda = any(row.cuda_ms is not None for row in rows)
    header = ["op", "size", "geo3d CPU ms"] + (["geo3d CUDA ms"] if with_cuda else [])
    header += [f"{name} ms" for name in peer_names] + ["best peer / geo3d"]
    table = []
    for row in rows:
        available = [v for v in row.peers.values() if v is not None]
        ratio = f"{min(available) / row.geo3d_ms:.2f}x" if available else "-"
        line = [row.op, row.size, format_ms(row.geo3d_ms)]
        line += [format_ms(row.cuda_ms)] if with_cuda else []
        line += [format_ms(row.peers.get(name)) for name in peer_names] + [ratio]
        table.append(line)
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for line in table:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument(
        "suite",
        choices=["ops", "models", "mesh", "pooling", "boxes", "sparse", "detector", "deploy"],
        help="what to benchmark",
    )
    parser.add_argument(
        "--config",
        default=DEFAULT_DETECTOR_CONFIG,
        help="detector: the detection config to time",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if not ops.native_available():
        print("warning: geo3d._C is not built; timing the plain-torch references", file=sys.stderr)
    print(
        f"geo3d {args.suite} benchmark: torch {torch.__version__}, {torch.get_num_threads()} "
        "threads, "
        f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}; "
        f"median of {args.repeats} runs",
        flush=True,
    )
    if args.suite == "models":
        rows = bench_models(args.repeats, args.quick)
        header = f"{'model':10} {'what':30} {'ms per batch':>13} {'shapes/s':>9}"
        print(header + "\n" + "-" * len(header))
        for model, what, ms, rate in rows:
            print(f"{model:10} {what:30} {ms:13.0f} {rate:9.1f}")
        return 0
    if args.suite == "detector":
        print(
            f"{args.config}: training with the config's batch size; inference one scene at a time"
        )
        print("| VFE pooling | training scenes/s | inference ms per scene | parameters |")
        print("|---|---|---|---|")
        for pooling, rate, latency, parameters in bench_detector(
            args.config, args.repeats, args.quick
        ):
            print(f"| {pooling} | {rate:.2f} | {latency:.0f} | {parameters:,} |")
        return 0
    if args.suite == "deploy":
        print("\n".join(deploy_table(bench_deploy(args.repeats, args.quick))))
        return 0
    if args.suite == "sparse":
        rows, difference = bench_sparse(args.repeats, args.quick)
        print("OpenPCDet's VoxelBackBone8x (SECOND settings) on mean voxels; 'rulebook' is the")
        print("part of the forward that finds the output voxels and the pairs")
        print("| voxels | count | method | forward ms | forward + backward ms | rulebook ms |")
        print("|---|---|---|---|---|---|")
        for name, count, method, forward, both, rulebook in rows:
            both = "-" if both is None else f"{both:.0f}"
            rulebook = "-" if rulebook is None else f"{rulebook:.0f}"
            print(f"| {name} | {count:,} | {method} | {forward:.0f} | {both} | {rulebook} |")
        print(f"largest difference from spconv's output: {difference:.2e}")
        return 0 if difference < 1e-3 else 1
    if args.suite == "boxes":
        print("| op | size | geo3d CPU ms | peer | peer ms | peer / geo3d |")
        print("|---|---|---|---|---|---|")
        evaluation, agree = bench_kitti_eval(args.quick)
        for name, size, ms, peer, peer_ms in bench_boxes(args.repeats, args.quick) + evaluation:
            ratio = "-" if peer_ms is None else f"{peer_ms / ms:.1f}x"
            shown = "-" if peer_ms is None else f"{peer_ms:.1f}"
            print(f"| {name} | {size} | {ms:.1f} | {peer} | {shown} | {ratio} |")
        print(f"kitti_eval: native and Python matching give the same APs: {agree}")
        return 0 if agree else 1
    if args.suite == "pooling":
        rows = bench_pooling(args.repeats, args.quick)
        header = (
            "| what | size | method | forward ms | forward + backward ms | MB saved for backward |"
        )
        print(header + "\n|---|---|---|---|---|---|")
        for what, size, method, forward, both, memory in rows:
            print(f"| {what} | {size} | {method} | {forward:.1f} | {both:.1f} | {memory:.1f} |")
        return 0
    if args.suite == "mesh":
        rows = bench_mesh(args.repeats, args.quick)
        print("MeshCNN on the Stanford bunny: preparation (repair, edge view, 5 features) and")
        print("pooling to half the edges (64 channels); 'dense' is the official E x E union matrix")
        header = (
            f"{'edges':>8} {'prepare ms':>11} {'plan ms':>9} {'pool ms':>9} "
            f"{'peak MB':>8} {'MB per 1k edges':>16} {'dense GB':>9}"
        )
        print(header + "\n" + "-" * len(header))
        for edges, prep, plan, pool, memory, dense in rows:
            mem = "-" if memory is None else f"{memory:.1f}"
            per = "-" if memory is None else f"{1000 * memory / edges:.3f}"
            print(
                f"{edges:8d} {prep:11.1f} {plan:9.1f} {pool:9.1f} {mem:>8} {per:>16} {dense:9.2f}"
            )
        print("\nThe official and exact collapse rules on the shared meshes decimated to 500")
        print("faces, pooled to half the edges with the same priorities (5 standardised features)")
        header = (
            "| mesh | edges | target | official reaches | exact reaches | survivors that differ |"
        )
        print(header + "\n|---|---|---|---|---|---|")
        for name, edges, target, official, exact, differ in bench_mesh_variants():
            print(f"| {name} | {edges} | {target} | {official} | {exact} | {differ:.1f} % |")
        return 0
    rows = []
    suites = (
        ("fps", bench_fps),
        ("knn", bench_knn),
        ("voxelize", bench_voxelize),
        ("scatter", bench_scatter),
        ("packed", bench_packed_rows),
    )
    for name, bench in suites:
        print(f"... {name}", file=sys.stderr, flush=True)
        rows += bench(args.repeats, args.quick)
    print_table(rows, args.markdown)
    return 0
