"""tools/ablate_pooling.py: its table for classifiers and for detectors."""

import importlib.util
import os

from geo3d.engine import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool():
    return importlib.import_module("geo3d.cli.ablate_pooling")


def test_detection_table_lists_moderate_ap_per_class():
    config = load_config(os.path.join(ROOT, "configs", "dsvt_pillar_synthetic.yaml"))
    results = {"parameters": 1234, "seconds": 100.0, "test_map_bev": 0.5, "test_map_3d": 0.25}
    for i, name in enumerate(("Car", "Pedestrian", "Cyclist")):
        results[f"test_{name}_bev_moderate"] = 0.1 * (i + 1)
        results[f"test_{name}_3d_moderate"] = 0.05 * (i + 1)
    lines = tool().table_lines([("soft", results, config)])
    assert lines[0].startswith("| pooling | parameters | BEV Car | BEV Cyclist | BEV Pedestrian")
    assert (
        lines[2]
        == "| soft | 1,234 | 10.0 | 30.0 | 20.0 | 5.0 | 15.0 | 10.0 | 50.0 / 25.0 | 10.0 | 10 |"
    )


def test_classification_table_keeps_accuracy():
    config = load_config(os.path.join(ROOT, "configs", "pointpn_synthetic.yaml"))
    results = {"parameters": 10, "seconds": 30.0, "test_oa": 0.9, "test_macc": 0.85}
    lines = tool().table_lines([("max", results, config)])
    assert "test OA" in lines[0] and "| 90.0 % | 85.0 % |" in lines[2]


def test_another_option_heads_the_table_and_any_value_is_passed(monkeypatch, tmp_path):
    """``--option reduction`` (DSVT-Voxel's 3D pooling): the swapped option heads the first
    column, and its values are not checked against the VFE poolings."""
    module = tool()
    config = load_config(os.path.join(ROOT, "configs", "dsvt_voxel_synthetic.yaml"))
    results = {"parameters": 1, "seconds": 8.0, "test_map_bev": 0.5, "test_map_3d": 0.25}
    for name in ("Car", "Pedestrian", "Cyclist"):
        results[f"test_{name}_bev_moderate"] = results[f"test_{name}_3d_moderate"] = 0.1
    assert module.table_lines([("max", results, config)], "reduction")[0].startswith(
        "| reduction | parameters |"
    )
    seen = []
    monkeypatch.setattr(module, "run", lambda c: seen.append(c.model.options) or results)
    monkeypatch.setattr(module, "load_config", lambda path, overrides: config_for(overrides))

    def config_for(overrides):
        return load_config(os.path.join(ROOT, "configs", "dsvt_voxel_synthetic.yaml"), overrides)

    argv = [
        "--config",
        "x",
        "--option",
        "reduction",
        "--poolings",
        "max",
        "--output",
        str(tmp_path),
    ]
    assert module.main(argv) == 0
    assert seen[0]["reduction"] == "max"
