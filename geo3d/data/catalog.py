"""geo3d's data sets by name (:func:`geo3d.data.build_dataset`): point clouds for
classification, meshes for MeshCNN and LiDAR scenes for detection.

Data sets without a validation split hold out ``val_fraction`` of the training set (a fixed
random subset, :func:`geo3d.data.splits.split_off_validation`); for point data sets
``val_fraction=0`` holds out nothing and lets the test set take the validation role, the
official protocol of Point-NN and Point-PN.
"""

from __future__ import annotations

from geo3d.data.collate import collate_scenes
from geo3d.data.mesh_samples import MeshSampleView, collate_mesh_samples, feature_statistics
from geo3d.data.point_views import ClassificationView
from geo3d.data.registry import DataBundle, register_dataset
from geo3d.data.scene_views import SceneView
from geo3d.data.splits import split_off_validation


def _needs_root(name: str, root) -> None:
    if root is None:
        raise ValueError(f"data set {name!r} needs 'root' (where it lies on disk)")


def _point_bundle(train, test, classes, num_points, augment, seed, val_fraction) -> DataBundle:
    """Views over a train and a test set, with the validation split the protocol asks for."""
    if val_fraction == 0:
        test_view = ClassificationView(test, num_points)
        train_view = ClassificationView(train, num_points, augment, seed)
        return DataBundle(train_view, test_view, test_view, classes, "points", "classification")
    kept, held = split_off_validation(train, val_fraction, seed)
    return DataBundle(
        ClassificationView(train, num_points, augment, seed, kept),
        ClassificationView(train, num_points, None, seed, held),
        ClassificationView(test, num_points),
        classes,
        "points",
        "classification",
    )


# -- point clouds ---------------------------------------------------------------------------
@register_dataset("synthetic_shapes", "points")
def synthetic_shapes(num_points=1024, augment=(), seed=0, per_class=None) -> DataBundle:
    """The embedded primitives, with their own validation split."""
    from geo3d.data.synthetic import SyntheticShapes

    splits = [
        SyntheticShapes(s, num_points=max(num_points, 1024), per_class=per_class, seed=seed)
        for s in ("train", "val", "test")
    ]
    return DataBundle(
        ClassificationView(splits[0], num_points, list(augment), seed),
        ClassificationView(splits[1], num_points),
        ClassificationView(splits[2], num_points),
        list(splits[0].classes),
        "points",
        "classification",
    )


@register_dataset("modelnet40", "points")
def modelnet40(root=None, num_points=1024, augment=(), seed=0, val_fraction=0.1) -> DataBundle:
    """ModelNet40 in PointNet++'s ``modelnet40_normal_resampled`` layout."""
    from geo3d.data.datasets import ModelNetNormalResampled

    _needs_root("modelnet40", root)
    train = ModelNetNormalResampled(root, "train", 10000)
    test = ModelNetNormalResampled(root, "test", 10000)
    return _point_bundle(
        train, test, list(train.classes), num_points, list(augment), seed, val_fraction
    )


@register_dataset("modelnet40_h5", "points")
def modelnet40_h5(root=None, num_points=1024, augment=(), seed=0, val_fraction=0.1) -> DataBundle:
    """ModelNet40 in the ``modelnet40_ply_hdf5_2048`` layout (Point-NN's and Point-PN's)."""
    from geo3d.data.datasets import ModelNetH5

    _needs_root("modelnet40_h5", root)
    train, test = ModelNetH5(root, "train", 2048), ModelNetH5(root, "test", 2048)
    return _point_bundle(
        train, test, list(train.classes), num_points, list(augment), seed, val_fraction
    )


@register_dataset("modelnet40_off", "points")
def modelnet40_off(root=None, num_points=1024, augment=(), seed=0, val_fraction=0.1) -> DataBundle:
    """ModelNet's original ``.off`` meshes, sampled to points."""
    from geo3d.data.datasets import ModelNetMeshFolder

    _needs_root("modelnet40_off", root)
    size = max(num_points, 1024)
    train = ModelNetMeshFolder(root, "train", size, seed=seed)
    test = ModelNetMeshFolder(root, "test", size, seed=seed)
    return _point_bundle(
        train, test, list(train.classes), num_points, list(augment), seed, val_fraction
    )


@register_dataset("scanobjectnn", "points")
def scanobjectnn(
    root=None, variant=None, num_points=1024, augment=(), seed=0, val_fraction=0.1
) -> DataBundle:
    """ScanObjectNN (``variant``: OBJ_BG, OBJ_ONLY or PB_T50_RS, the default)."""
    from geo3d.data.datasets import ScanObjectNN

    _needs_root("scanobjectnn", root)
    variant = variant or "PB_T50_RS"
    train = ScanObjectNN(root, variant, "train", 2048)
    test = ScanObjectNN(root, variant, "test", 2048)
    return _point_bundle(
        train,
        test,
        list(getattr(train, "classes", [])),
        num_points,
        list(augment),
        seed,
        val_fraction,
    )


# -- meshes -------------------------------------------------------------------------------
def _mesh_bundle(sources, classes, task, features, augment, augment_options, seed) -> DataBundle:
    """MeshCNN samples from ``[(data set, indices)]`` for train, val and test; the feature
    statistics come from the training split, without augmentation."""
    common = {"task": task, "features": features, "seed": seed}
    train = MeshSampleView(
        sources[0][0],
        augment=list(augment),
        augment_options=augment_options,
        indices=sources[0][1],
        **common,
    )
    statistics = feature_statistics(train.raw_features())
    train.statistics = statistics
    val = MeshSampleView(sources[1][0], indices=sources[1][1], statistics=statistics, **common)
    test = MeshSampleView(sources[2][0], indices=sources[2][1], statistics=statistics, **common)
    return DataBundle(train, val, test, classes, "meshes", task, collate_mesh_samples)


@register_dataset("synthetic_meshes", "meshes")
def synthetic_meshes(
    task="classification",
    features="official",
    augment=(),
    augment_options=None,
    seed=0,
    per_class=None,
) -> DataBundle:
    """The embedded primitives as meshes: classification of the primitive, or
    segmentation of its parts."""
    from geo3d.data.synthetic import SyntheticMeshes

    if task not in ("classification", "segmentation"):
        raise ValueError(f"'task' must be classification or segmentation (got {task!r})")
    splits = [SyntheticMeshes(s, per_class=per_class, seed=seed) for s in ("train", "val", "test")]
    classes = list(SyntheticMeshes.classes if task == "classification" else SyntheticMeshes.parts)
    return _mesh_bundle(
        [(s, None) for s in splits], classes, task, features, augment, augment_options, seed
    )


def _meshcnn_folders(
    folder_class, root, task, features, augment, augment_options, seed, val_fraction
) -> DataBundle:
    """MeshCNN's folder layouts: a held-out part of ``train`` validates, ``test`` tests."""
    train, test = folder_class(root, "train"), folder_class(root, "test")
    classes = (
        list(train.classes)
        if task == "classification"
        else [str(c) for c in range(train.num_classes)]
    )
    kept, held = split_off_validation(train, val_fraction, seed)
    return _mesh_bundle(
        [(train, kept), (train, held), (test, None)],
        classes,
        task,
        features,
        augment,
        augment_options,
        seed,
    )


def _register_meshcnn_folders(name: str, task_served: str, folder_class: str, doc: str) -> None:
    """Register one of MeshCNN's folder layouts, serving ``task_served`` only."""

    def build(
        root=None,
        task=task_served,
        features="official",
        augment=(),
        augment_options=None,
        seed=0,
        val_fraction=0.1,
    ) -> DataBundle:
        from geo3d.data import datasets

        if task != task_served:
            raise ValueError(f"{name} serves {task_served} only (got task {task!r})")
        _needs_root(name, root)
        return _meshcnn_folders(
            getattr(datasets, folder_class),
            root,
            task,
            features,
            augment,
            augment_options,
            seed,
            val_fraction,
        )

    build.__name__, build.__doc__ = name, doc
    register_dataset(name, "meshes")(build)


_register_meshcnn_folders(
    "meshcnn_classification",
    "classification",
    "MeshClassificationFolder",
    "MeshCNN's classification folders (SHREC, cubes): ``root/<class>/{train,test}/*.obj``.",
)
_register_meshcnn_folders(
    "meshcnn_segmentation",
    "segmentation",
    "MeshSegmentationFolder",
    "MeshCNN's segmentation folders (COSEG, human bodies): ``root/{train,test}`` with "
    "``seg`` and ``sseg`` label folders.",
)


# -- LiDAR scenes ---------------------------------------------------------------------------
@register_dataset("synthetic_lidar", "scenes")
def synthetic_lidar(frames=None, seed=0, augment=()) -> DataBundle:
    """The embedded LiDAR sweeps with boxes (``frames``: per split, ``None`` the default
    sizes), a train and a val split, the val split also serving as test; ``augment``
    names :data:`geo3d.data.scene_views.SCENE_AUGMENTATIONS` for the train split; batched
    by :func:`geo3d.data.collate.collate_scenes`."""
    from geo3d.data.synthetic import SyntheticLidar

    train, val = (SyntheticLidar(s, frames=frames, seed=seed) for s in ("train", "val"))
    if augment:
        train = SceneView(train, list(augment), seed)
    return DataBundle(
        train, val, val, list(SyntheticLidar.classes), "scenes", "detection", collate_scenes
    )


@register_dataset("kitti", "scenes")
def kitti(root=None, skip_bad_files=False, augment=(), seed=0, fov_only=True) -> DataBundle:
    """KITTI object detection (``root`` holds ``training/`` and ``ImageSets/``): the
    ``train`` and ``val`` ImageSets, the validation split also serving as test (KITTI's
    test labels are not public); ``augment`` as for ``synthetic_lidar``; ``fov_only``
    keeps the points the camera sees (OpenPCDet's ``FOV_POINTS_ONLY``). Evaluation is
    KITTI's official one (:func:`geo3d.metrics.kitti_eval`, camera frame)."""
    from geo3d.data.datasets import KittiDetection

    _needs_root("kitti", root)
    options = {"skip_bad_files": skip_bad_files, "fov_only": fov_only}
    train = KittiDetection(root, "train", **options)
    val = KittiDetection(root, "val", **options)
    classes = list(train.classes)
    if augment:
        train = SceneView(train, list(augment), seed)
    return DataBundle(train, val, val, classes, "scenes", "detection", collate_scenes)
