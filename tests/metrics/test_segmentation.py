"""MeshCNN's segmentation metrics on a hand-made batch of two meshes."""

import torch

from geo3d.metrics import segmentation_metrics, segmentation_sums


def test_soft_edge_face_accuracy_and_miou_by_hand():
    # mesh 0: 3 edges, mesh 1: 2 edges; 2 classes
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    predicted = [0, 1, 1, 0, 0]
    edge_labels = torch.tensor([0, 0, 1, 1, 0])
    soft = torch.tensor([[1, 0], [0.5, 0.5], [0, 1], [0, 1], [1, 0]], dtype=torch.float32)
    areas = torch.tensor([0.5, 0.25, 0.25, 0.6, 0.4])
    edge_ptr = torch.tensor([0, 3, 5])
    edge_faces = torch.tensor([[0, 1], [0, -1], [1, -1], [2, -1], [2, -1]])
    face_labels = torch.tensor([0, 1, 0])
    sums = segmentation_sums(logits, edge_labels, soft, areas, edge_ptr, edge_faces, face_labels, 2)
    metrics = segmentation_metrics(sums)
    # hard: edges 0 and 2 and 4 right -> 3 / 5
    assert abs(metrics["edge_acc"] - 3 / 5) < 1e-9
    # soft: mesh 0 all three predictions are soft labels (area 1.0); mesh 1 edge 4 (0.4)
    assert abs(metrics["soft_acc"] - (1.0 + 0.4) / 2) < 1e-6
    # faces: 0 <- edges 0, 1: probabilities sum favours class 0 (0.88 + 0.27 vs 0.12 + 0.73)
    # face 1 <- edges 0, 2: 0.88 + 0.27 vs 0.12 + 0.73 -> class 0 (label 1: wrong)
    # face 2 <- edges 3, 4: class 0 (label 0: right)
    assert abs(metrics["face_acc"] - 2 / 3) < 1e-9
    # IoU: class 0: predicted {0, 3, 4}, true {0, 1, 4}: 2 / 4; class 1: {1, 2} vs {2, 3}: 1 / 3
    assert abs(metrics["miou"] - (2 / 4 + 1 / 3) / 2) < 1e-9
    assert predicted == logits.argmax(1).tolist()


def test_sums_add_over_batches():
    logits = torch.randn(10, 3)
    labels = torch.randint(0, 3, (10,))
    soft = torch.nn.functional.one_hot(labels, 3).float()
    areas = torch.full((10,), 0.2)
    faces = torch.full((10, 2), -1)
    none = torch.zeros(0, dtype=torch.int64)
    whole = segmentation_sums(logits, labels, soft, areas, torch.tensor([0, 5, 10]), faces, none, 3)
    first = segmentation_sums(
        logits[:5], labels[:5], soft[:5], areas[:5], torch.tensor([0, 5]), faces[:5], none, 3
    )
    second = segmentation_sums(
        logits[5:], labels[5:], soft[5:], areas[5:], torch.tensor([0, 5]), faces[5:], none, 3
    )
    for key in whole:
        assert torch.allclose(whole[key], first[key] + second[key])
    assert "face_acc" not in segmentation_metrics(whole)
