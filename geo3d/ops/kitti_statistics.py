"""KITTI's matching statistics per score threshold: the inner loop of the official evaluation
(``kitti_object_eval_python/eval.py``: ``compute_statistics_jit`` summed over frames by
``fused_compute_statistics``), native, for every threshold at once.

The official code runs this loop under numba; in Python it took about 40 s of a KITTI val
evaluation. The rules (quirks included) are the reference below, line for line; the metric
around it (cleaning, thresholds, averages) is :mod:`geo3d.metrics.kitti`.

Frames are packed: frame ``f`` has ground-truth boxes ``gt_ptr[f]:gt_ptr[f + 1]``,
detections ``dt_ptr[f]:dt_ptr[f + 1]``, its ``(num_dt, num_gt)`` overlaps row-major at
``overlaps[overlap_ptr[f]:overlap_ptr[f + 1]]``, ``dontcare_ptr[f + 1] - dontcare_ptr[f]``
DontCare regions and their ``(num_dt, num_dc)`` overlaps next in ``dontcare``.
"""

from __future__ import annotations

import math

import torch

from geo3d.ops._library import op, register_reference

NO_DETECTION = -10000000.0
# The packed inputs, in the op's argument order.
NAMES = (
    "overlaps",
    "overlap_ptr",
    "gt_ptr",
    "dt_ptr",
    "ignored_gt",
    "ignored_dt",
    "scores",
    "gt_alpha",
    "dt_alpha",
    "dontcare",
    "dontcare_ptr",
)


def _frame(args, frame, min_overlap, threshold, compute_fp, compute_aos, tp_scores, offset):
    """One frame at one threshold: ``(tp, fp, fn, similarity)``; the official
    ``compute_statistics_jit``."""
    (
        overlaps,
        overlap_ptr,
        gt_ptr,
        dt_ptr,
        ig_gt,
        ig_dt,
        scores,
        gt_alpha,
        dt_alpha,
        dc,
        dc_ptr,
    ) = args
    g0, g1, d0, d1 = gt_ptr[frame], gt_ptr[frame + 1], dt_ptr[frame], dt_ptr[frame + 1]
    num_gt, num_dt = g1 - g0, d1 - d0
    num_dc = dc_ptr[frame + 1] - dc_ptr[frame]
    o0 = overlap_ptr[frame]
    assigned = [False] * num_dt
    below = [compute_fp and scores[d0 + j] < threshold for j in range(num_dt)]
    tp = fp = fn = 0
    similarity = 0.0
    for i in range(num_gt):
        if ig_gt[g0 + i] == -1:
            continue
        det, valid, max_overlap, assigned_ignored = -1, NO_DETECTION, 0.0, False
        for j in range(num_dt):
            if ig_dt[d0 + j] == -1 or assigned[j] or below[j]:
                continue
            overlap = overlaps[o0 + j * num_gt + i]
            if not compute_fp and overlap > min_overlap and scores[d0 + j] > valid:
                det, valid = j, scores[d0 + j]
            elif (
                compute_fp
                and overlap > min_overlap
                and (overlap > max_overlap or assigned_ignored)
                and ig_dt[d0 + j] == 0
            ):
                max_overlap, det, valid, assigned_ignored = overlap, j, 1.0, False
            elif (
                compute_fp
                and overlap > min_overlap
                and valid == NO_DETECTION
                and ig_dt[d0 + j] == 1
            ):
                det, valid, assigned_ignored = j, 1.0, True
        if valid == NO_DETECTION and ig_gt[g0 + i] == 0:
            fn += 1
        elif valid != NO_DETECTION and (ig_gt[g0 + i] == 1 or ig_dt[d0 + det] == 1):
            assigned[det] = True
        elif valid != NO_DETECTION:
            tp += 1
            if tp_scores is not None:
                tp_scores.append(scores[d0 + det])
            if compute_aos:
                similarity += (1.0 + math.cos(gt_alpha[g0 + i] - dt_alpha[d0 + det])) / 2.0
            assigned[det] = True
    if compute_fp:
        ignored = [ig_dt[d0 + j] in (-1, 1) for j in range(num_dt)]
        fp = sum(1 for j in range(num_dt) if not (assigned[j] or ignored[j] or below[j]))
        absorbed = 0
        for i in range(num_dc):
            for j in range(num_dt):
                if assigned[j] or ignored[j] or below[j]:
                    continue
                if dc[offset + j * num_dc + i] > min_overlap:
                    assigned[j] = True
                    absorbed += 1
        fp -= absorbed
        if compute_aos and not (tp > 0 or fp > 0):
            similarity = -1.0
    return (tp, fp, fn, similarity), offset + num_dt * num_dc


@register_reference("kitti_statistics")
def kitti_statistics_reference(
    overlaps,
    overlap_ptr,
    gt_ptr,
    dt_ptr,
    ignored_gt,
    ignored_dt,
    scores,
    gt_alpha,
    dt_alpha,
    dontcare,
    dontcare_ptr,
    thresholds,
    min_overlap,
    compute_fp,
    compute_aos,
):
    """See :func:`kitti_statistics`."""
    args = [
        t.tolist()
        for t in (
            overlaps,
            overlap_ptr,
            gt_ptr,
            dt_ptr,
            ignored_gt,
            ignored_dt,
            scores,
            gt_alpha,
            dt_alpha,
            dontcare,
            dontcare_ptr,
        )
    ]
    frames = len(args[2]) - 1
    if not compute_fp:
        found: list[float] = []
        offset = 0
        for frame in range(frames):
            _, offset = _frame(args, frame, min_overlap, 0.0, False, False, found, offset)
        return scores.new_zeros((0, 4)), scores.new_tensor(found)
    counts = scores.new_zeros((thresholds.numel(), 4))
    for t, threshold in enumerate(thresholds.tolist()):
        offset = 0
        for frame in range(frames):
            values, offset = _frame(
                args, frame, min_overlap, threshold, True, compute_aos, None, offset
            )
            tp, fp, fn, similarity = values
            # official fused_compute_statistics: a frame with neither tp nor fp says -1 and
            # adds nothing to the similarity sum
            counts[t] += scores.new_tensor([tp, fp, fn, similarity if similarity != -1 else 0])
    return counts, scores.new_zeros(0)


@torch.library.register_fake("geo3d::kitti_statistics")
def _kitti_statistics_fake(
    overlaps,
    overlap_ptr,
    gt_ptr,
    dt_ptr,
    ignored_gt,
    ignored_dt,
    scores,
    gt_alpha,
    dt_alpha,
    dontcare,
    dontcare_ptr,
    thresholds,
    min_overlap,
    compute_fp,
    compute_aos,
):
    if compute_fp:
        return scores.new_empty((thresholds.shape[0], 4)), scores.new_empty((0,))
    found = torch.library.get_ctx().new_dynamic_size()
    return scores.new_empty((0, 4)), scores.new_empty((found,))


def kitti_statistics(
    packed: dict[str, torch.Tensor],
    thresholds: torch.Tensor | None,
    min_overlap: float,
    compute_aos: bool = False,
):
    """KITTI's statistics over packed frames (module docstring).

    Args:
        packed: ``overlaps``, ``overlap_ptr``, ``gt_ptr``, ``dt_ptr``, ``ignored_gt`` and
            ``ignored_dt`` (0 counts, 1 ignored, -1 another class), ``scores``,
            ``gt_alpha``, ``dt_alpha``, ``dontcare``, ``dontcare_ptr``; float64 values and
            int64 offsets and flags, all 1D.
        thresholds: ``(T,)`` score thresholds; ``None`` for the first pass.
        min_overlap: a match needs an overlap greater than this.
        compute_aos: also sum the orientation similarity.

    Returns:
        With ``thresholds``: ``(T, 4)`` float64 sums of ``(tp, fp, fn, similarity)`` per
        threshold. Without: ``(K,)`` the true positives' scores (every detection counted).
    """
    return _run(op("kitti_statistics"), packed, thresholds, min_overlap, compute_aos)


def kitti_statistics_python(
    packed: dict[str, torch.Tensor],
    thresholds: torch.Tensor | None,
    min_overlap: float,
    compute_aos: bool = False,
):
    """:func:`kitti_statistics` served by the line-for-line Python reference (what the
    official port runs without numba), for the tests and the benchmark."""
    return _run(kitti_statistics_reference, packed, thresholds, min_overlap, compute_aos)


def _run(kernel, packed, thresholds, min_overlap, compute_aos):
    missing = [n for n in NAMES if n not in packed]
    if missing:
        raise ValueError(f"kitti_statistics: 'packed' lacks {missing}")
    compute_fp = thresholds is not None
    if thresholds is None:
        thresholds = torch.zeros(0, dtype=torch.float64)
    counts, found = kernel(
        *(packed[n].contiguous() for n in NAMES),
        thresholds.to(torch.float64).contiguous(),
        float(min_overlap),
        compute_fp,
        bool(compute_aos),
    )
    return counts if compute_fp else found
