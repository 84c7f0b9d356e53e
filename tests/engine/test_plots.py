"""The curves picture keeps to the metrics a person can read."""

from geo3d.engine.plots import plot_curves, shown_metrics


def test_few_metrics_are_all_shown_and_detection_shows_its_summaries():
    assert shown_metrics(["val_oa", "val_macc"]) == ["val_oa", "val_macc"]
    detection = [
        f"val_{c}_{m}_{level}"
        for c in ("Car", "Pedestrian", "Cyclist")
        for m in ("bev", "3d")
        for level in ("easy", "moderate", "hard")
    ] + ["val_map_bev", "val_map_3d"]
    assert shown_metrics(sorted(detection)) == [
        "val_map_3d",
        "val_map_bev",
        "val_Car_bev_moderate",
        "val_Cyclist_bev_moderate",
        "val_Pedestrian_bev_moderate",
    ]


def test_plot_curves_writes_a_picture(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_map_bev": e / 10} for e in (1, 2, 3)]
    plot_curves(history, str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000
