"""From a DataConfig to train/val/test data sets and the task that evaluates them:
``(points (N, 3), label)`` pairs for point classification, MeshCNN samples for meshes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geo3d.data import transforms as T
from geo3d.engine.config import DataConfig
from geo3d.engine.tasks import ClassificationTask

POINT_DATASETS = (
    "synthetic_shapes",
    "modelnet40",
    "modelnet40_h5",
    "modelnet40_off",
    "scanobjectnn",
)
MESH_DATASETS = ("synthetic_meshes", "meshcnn_classification", "meshcnn_segmentation")


@dataclass
class DataBundle:
    """``train``, ``val`` and ``test`` data sets, the class names and the task."""

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    classes: list
    task: ClassificationTask | None

    def _with_task(self) -> DataBundle:
        self.task = ClassificationTask(len(self.classes))
        return self


AUGMENTATIONS = {
    "scale": lambda: T.RandomScale(2 / 3, 3 / 2, anisotropic=True),  # Point-PN's
    "translate": lambda: T.RandomTranslate(0.2),  # Point-PN's
    "rotate_z": lambda: T.RandomRotation(),
    "jitter": lambda: T.Jitter(0.01, 0.05),
    "dropout": lambda: T.RandomDropout(0.875),
    "shuffle": lambda: T.ShufflePoints(),
}


class ClassificationView(torch.utils.data.Dataset):
    """``(points (num_points, 3), label)`` from any classification data set of dicts.

    Takes the first ``num_points`` points (Point-NN's and PointNet++'s protocol) and, for
    training, applies the augmentations with a generator seeded from ``(seed, epoch,
    index)``: the same run gives the same batches, with any number of workers.
    """

    def __init__(
        self,
        dataset,
        num_points: int,
        augment: list[str] | None = None,
        seed: int = 0,
        indices=None,
    ):
        unknown = [a for a in augment or [] if a not in AUGMENTATIONS]
        if unknown:
            raise ValueError(f"unknown augmentations {unknown} (known: {', '.join(AUGMENTATIONS)})")
        self.dataset, self.num_points, self.seed = dataset, num_points, seed
        self.indices = list(range(len(dataset))) if indices is None else list(indices)
        self.transform = T.Compose([AUGMENTATIONS[a]() for a in augment or []])
        self.epoch = 0
        self.classes = getattr(dataset, "classes", None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        item = self.dataset[self.indices[index]]
        points = item["points"][: self.num_points]
        if points.shape[0] < self.num_points:
            raise ValueError(
                f"sample {self.indices[index]} has {points.shape[0]} points, fewer than {self.num_points}"
            )
        if self.transform.transforms:
            generator = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) % 2**63)
            points = self.transform({"points": points}, generator)["points"]
        return points.contiguous(), item["label"]

    def labels(self) -> torch.Tensor:
        return torch.stack([self.dataset[i]["label"] for i in self.indices])


def split_off_validation(dataset, fraction: float, seed: int):
    count = len(dataset)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held = max(1, int(round(count * fraction)))
    return sorted(order[held:]), sorted(order[:held])


def build_datasets(config: DataConfig) -> DataBundle:
    """The data sets a config names. Data sets without a validation split hold out
    ``val_fraction`` of the training set (a fixed random subset)."""
    if config.dataset in MESH_DATASETS:
        from geo3d.engine.mesh_data import build_mesh_datasets

        return build_mesh_datasets(config)
    if config.task != "classification":
        raise ValueError(
            f"data set {config.dataset!r} serves classification only (task: {config.task!r})"
        )
    return DataBundle(*_point_datasets(config), None)._with_task()


def _point_datasets(config: DataConfig):
    name = config.dataset
    if name == "synthetic_shapes":
        from geo3d.data.synthetic import SyntheticShapes

        make = lambda split: SyntheticShapes(
            split,
            num_points=max(config.num_points, 1024),
            per_class=config.per_class,
            seed=config.seed,
        )  # noqa: E731
        train, val, test = make("train"), make("val"), make("test")
        classes = list(train.classes)
        return (
            ClassificationView(train, config.num_points, config.augment, config.seed),
            ClassificationView(val, config.num_points),
            ClassificationView(test, config.num_points),
            classes,
        )
    if config.root is None:
        raise ValueError(f"data set {name!r} needs 'data.root' (where it lies on disk)")
    from geo3d.data import datasets as D

    if name == "modelnet40":
        train, test = (
            D.ModelNetNormalResampled(config.root, "train", 10000),
            D.ModelNetNormalResampled(config.root, "test", 10000),
        )
    elif name == "modelnet40_h5":
        train, test = (
            D.ModelNetH5(config.root, "train", 2048),
            D.ModelNetH5(config.root, "test", 2048),
        )
    elif name == "modelnet40_off":
        train = D.ModelNetMeshFolder(
            config.root, "train", max(config.num_points, 1024), seed=config.seed
        )
        test = D.ModelNetMeshFolder(
            config.root, "test", max(config.num_points, 1024), seed=config.seed
        )
    elif name == "scanobjectnn":
        variant = config.variant or "PB_T50_RS"
        train, test = (
            D.ScanObjectNN(config.root, variant, "train", 2048),
            D.ScanObjectNN(config.root, variant, "test", 2048),
        )
    else:
        raise ValueError(
            f"unknown data set {name!r} (known: {', '.join(POINT_DATASETS + MESH_DATASETS)})"
        )
    classes = list(getattr(train, "classes", []))
    if config.val_fraction == 0:
        # The official protocol of Point-NN / Point-PN: the whole training set trains (or
        # fills the memory bank) and the test set takes the validation role.
        test_view = ClassificationView(test, config.num_points)
        train_view = ClassificationView(train, config.num_points, config.augment, config.seed)
        return train_view, test_view, test_view, classes
    kept, held = split_off_validation(train, config.val_fraction, config.seed)
    return (
        ClassificationView(train, config.num_points, config.augment, config.seed, kept),
        ClassificationView(train, config.num_points, None, config.seed, held),
        ClassificationView(test, config.num_points),
        classes,
    )
