"""keras.visualization: drawing (numpy only) against Keras and pixel checks; the plotting
functions where matplotlib is installed."""

import importlib.util
import sys

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import visualization as vis


def _keras():
    return pytest.importorskip("keras")


def _np(x):
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _images(shape=(2, 10, 12, 3), seed=0, dtype="float32"):
    return np.random.default_rng(seed).integers(0, 255, shape).astype(dtype)


def _masks(shape=(2, 10, 12, 1), seed=1, high=4):
    return np.random.default_rng(seed).integers(-1, high, shape).astype("int32")


def test_reachable_from_fastkeras():
    assert fk.visualization is vis
    assert callable(fk.visualization.draw_bounding_boxes)


@pytest.mark.parametrize("kwargs", [dict(num_classes=4), dict(num_classes=6, alpha=0.5),
                                    dict(num_classes=4, blend=False),
                                    dict(num_classes=4, ignore_index=0, alpha=0.3),
                                    dict(num_classes=4, color_mapping={
                                        0: (1, 2, 3), 1: (40, 50, 60), 2: (7, 8, 9),
                                        3: (200, 100, 50)})])
def test_draw_segmentation_masks_matches_keras(kwargs):
    keras = _keras()
    images, masks = _images(), _masks()
    ours = vis.draw_segmentation_masks(images, masks, **kwargs)
    theirs = _np(keras.visualization.draw_segmentation_masks(images, masks, **kwargs))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_draw_segmentation_masks_channels_first_tensor_and_3d_masks():
    images, masks = _images(), _masks()
    expected = vis.draw_segmentation_masks(images, masks, num_classes=4)
    first = vis.draw_segmentation_masks(fk.ops.convert_to_tensor(images.transpose(0, 3, 1, 2)),
                                        masks.transpose(0, 3, 1, 2), num_classes=4,
                                        data_format="channels_first")
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(
        vis.draw_segmentation_masks(images, masks[..., 0], num_classes=4), expected)


def test_draw_segmentation_masks_pixels_and_errors():
    images = np.full((1, 4, 4, 3), 100, "float32")
    masks = np.full((1, 4, 4, 1), -1, "int32")
    masks[0, 1, 2, 0] = 1
    out = vis.draw_segmentation_masks(images, masks, num_classes=2,
                                      color_mapping={0: (0, 0, 0), 1: (200, 0, 50)}, alpha=0.5)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 1, 2], [150, 50, 75])
    untouched = np.ones((4, 4), bool)
    untouched[1, 2] = False
    assert (out[0][untouched] == 100).all()
    with pytest.raises(TypeError, match="segmentation_masks.dtype=float32"):
        vis.draw_segmentation_masks(images, masks.astype("float32"), num_classes=2)
    with pytest.raises(ValueError, match=r"images.shape=\(4, 4, 3\)"):
        vis.draw_segmentation_masks(images[0], masks[0], num_classes=2)


def _one_box(box, label=1, **kwargs):
    images = np.zeros((1, 30, 40, 3), "uint8")
    boxes = {"boxes": np.array([[box]], "float32"), "labels": np.array([[label]])}
    kwargs.setdefault("color", (255, 0, 0))
    return vis.draw_bounding_boxes(images, boxes, "xyxy", **kwargs)


def test_draw_bounding_boxes_thin_box_edges():
    out = _one_box([5.7, 6.2, 20.9, 15.0], line_thickness=1)
    assert out.shape == (1, 30, 40, 3) and out.dtype == np.uint8
    red = out[0, ..., 0] == 255
    expected = np.zeros((30, 40), bool)
    expected[6, 5:21] = expected[15, 5:21] = True
    expected[6:16, 5] = expected[6:16, 20] = True
    np.testing.assert_array_equal(red, expected)
    assert (out[0, ..., 1:] == 0).all()


def test_draw_bounding_boxes_thick_lines_and_skipped_labels():
    out = _one_box([10, 10, 30, 20], line_thickness=2)[0, ..., 0] > 0
    assert out[9:12, 10:31].all() and out[19:22, 10:31].all()
    assert out[10:21, 9:12].all() and out[10:21, 29:32].all()
    assert not out[12:19, 12:29].any() and not out[8].any()
    assert not _one_box([10, 10, 30, 20], label=-1).any()
    filled = _one_box([10, 10, 30, 20], line_thickness=-1)[0, ..., 0] > 0
    assert filled[10:21, 10:31].all() and filled.sum() == 11 * 21


def test_draw_bounding_boxes_formats_float_images_and_text():
    images = np.zeros((2, 30, 40, 3), "float32") + 0.5  # values <= 1 are scaled by 255
    boxes = {"boxes": np.array([[[0.25, 0.2, 0.5, 0.6]], [[0.1, 0.1, 0.2, 0.2]]], "float32"),
             "labels": np.array([[0], [1]]), "confidences": np.array([[0.9], [0.4]])}
    out = vis.draw_bounding_boxes(images, boxes, "rel_xyxy", color=(0, 255, 0),
                                  line_thickness=1)
    assert out.dtype == np.uint8 and (out[0, 0, 0] == 127).all()
    assert (out[0, 6, 10:21] == [0, 255, 0]).all()  # top edge at y = 0.2 * 30
    with_text = vis.draw_bounding_boxes(images, boxes, "rel_xyxy", color=(0, 255, 0),
                                        line_thickness=1, class_mapping={0: "cat"})
    assert (with_text[0, ..., 1] == 255).sum() > (out[0, ..., 1] == 255).sum()
    np.testing.assert_array_equal(with_text[1], out[1])  # class 1 is not in the mapping


def test_draw_bounding_boxes_channels_first_and_errors():
    images = _images((1, 3, 20, 24), dtype="uint8")
    boxes = {"boxes": np.array([[[2, 3, 10, 12]]]), "labels": np.array([[0]])}
    first = vis.draw_bounding_boxes(images, boxes, "xyxy", data_format="channels_first")
    last = vis.draw_bounding_boxes(images.transpose(0, 2, 3, 1), boxes, "xyxy")
    np.testing.assert_array_equal(first.transpose(0, 2, 3, 1), last)
    with pytest.raises(ValueError, match=r"images.shape=\(3, 20, 24\)"):
        vis.draw_bounding_boxes(images[0], boxes, "xyxy")
    with pytest.raises(TypeError, match="bounding_boxes"):
        vis.draw_bounding_boxes(images, [1, 2], "xyxy")
    with pytest.raises(ValueError, match="'labels'"):
        vis.draw_bounding_boxes(images, {"boxes": boxes["boxes"]}, "xyxy")
    with pytest.raises(ValueError, match="source='nope'"):
        vis.draw_bounding_boxes(images, boxes, "nope")


def test_draw_bounding_boxes_keras_needs_opencv():
    keras = _keras()
    if importlib.util.find_spec("cv2") is not None:
        pytest.skip("OpenCV is installed")
    images = _images((1, 20, 20, 3), dtype="uint8")
    boxes = {"boxes": np.array([[[2, 3, 10, 12]]]), "labels": np.array([[0]])}
    with pytest.raises(ImportError, match="cv2"):
        keras.visualization.draw_bounding_boxes(images, boxes, "xyxy")
    assert vis.draw_bounding_boxes(images, boxes, "xyxy").shape == (1, 20, 20, 3)


def test_plotting_without_matplotlib_names_the_package(monkeypatch):
    # matplotlib made unimportable for this test (a None entry makes `import` fail)
    for name in [m for m in list(sys.modules) if m == "matplotlib" or
                 m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    for fn, args in [(vis.plot_image_gallery, (_images(),)),
                     (vis.plot_bounding_box_gallery, (_images(), "xyxy")),
                     (vis.plot_segmentation_mask_gallery, (_images(), 3))]:
        with pytest.raises(ImportError, match="matplotlib"):
            fn(*args)


def test_plot_galleries_make_figures():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = _images((4, 10, 12, 3))
    fig = vis.plot_image_gallery(images, y_true=np.array([0, 1, 0, 1]),
                                 label_map={0: "a", 1: "b"}, show=False)
    assert len(fig.axes) == 4
    boxes = {"boxes": np.array([[[1, 1, 5, 5]]] * 4, "float32"), "labels": np.ones((4, 1))}
    fig = vis.plot_bounding_box_gallery(images, "xyxy", y_true=boxes, y_pred=boxes,
                                        legend=True, rows=1, cols=4, show=False)
    assert len(fig.axes) == 4 and fig.legends
    fig = vis.plot_segmentation_mask_gallery(images, 4, y_true=_masks((4, 10, 12, 1)),
                                             y_pred=_masks((4, 10, 12, 1), 2), show=False)
    assert len(fig.axes) == 12
    with pytest.raises(ValueError, match="label_map"):
        vis.plot_image_gallery(images, y_true=np.array([0, 1, 0, 1]), show=False)
    plt.close("all")
