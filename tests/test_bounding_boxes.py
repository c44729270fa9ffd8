"""keras.utils.bounding_boxes and layers.MaxNumBoundingBoxes, compared with real Keras."""

import itertools

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.utils import bounding_boxes as bb

keras = pytest.importorskip("keras")
KB = keras.utils.bounding_boxes

FORMATS = ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx",
           "rel_xywh", "rel_center_xywh"]
H, W = 40, 60


def _np(x):
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(fk.ops.convert_to_numpy(x))


def _boxes(shape, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30, shape[:-1] + (2,))
    wh = rng.uniform(1, 25, shape[:-1] + (2,))
    return np.concatenate([xy, xy + wh], axis=-1).astype("float32")


def _close(ours, theirs, tol=1e-5):
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(7, 4), (3, 5, 4)])
@pytest.mark.parametrize("source,target", list(itertools.product(FORMATS, FORMATS)))
def test_convert_format_every_pair(source, target, shape):
    boxes = _boxes(shape)
    if source.startswith("rel_"):
        boxes = boxes / np.float32(50)
    ours = bb.convert_format(boxes, source, target, height=H, width=W)
    assert isinstance(ours, fk.ops.convert_to_tensor(0).__class__)
    assert tuple(ours.shape) == shape and ours.dtype == np.float32
    _close(ours, KB.convert_format(boxes, source, target, height=H, width=W))


def test_convert_format_dict_case_dtype_and_tensor_input():
    boxes = _boxes((2, 4, 4))
    labels = np.array([[1, 2, 3, 4], [0, 1, 2, -1]])
    ours = bb.convert_format({"boxes": fk.ops.convert_to_tensor(boxes), "labels": labels},
                             "XYXY", "Center_XYWH", dtype="float64")
    theirs = KB.convert_format({"boxes": boxes, "labels": labels}, "XYXY", "Center_XYWH",
                               dtype="float64")
    assert ours["boxes"].dtype == np.float64
    _close(ours["boxes"], theirs["boxes"])
    np.testing.assert_array_equal(_np(ours["labels"]), labels)


def test_convert_format_errors_name_argument_and_value():
    with pytest.raises(ValueError, match="source='bad'"):
        bb.convert_format(_boxes((2, 4)), "bad", "xyxy")
    with pytest.raises(ValueError, match="target='xyz'"):
        bb.convert_format(_boxes((2, 4)), "xyxy", "xyz")
    with pytest.raises(ValueError, match=r"boxes.shape=\(2, 3\)"):
        bb.convert_format(np.zeros((2, 3)), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="height=None"):
        bb.convert_format(_boxes((2, 4)), "xyxy", "rel_xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "rel_xyxy"])
@pytest.mark.parametrize("batched", [False, True])
def test_clip_to_image_size(fmt, batched):
    boxes = _boxes((2, 6, 4), seed=1) * 2 - 20
    boxes[0, 0] = [-5, -5, -1, -1]  # entirely outside: label -1
    labels = np.arange(12).reshape(2, 6)
    if fmt == "rel_xyxy":
        boxes = boxes / np.float32(50)
    if not batched:
        boxes, labels = boxes[0], labels[0]
    ours = bb.clip_to_image_size({"boxes": boxes, "labels": labels}, H, W, fmt)
    theirs = KB.clip_to_image_size({"boxes": boxes, "labels": labels}, H, W, fmt)
    _close(ours["boxes"], theirs["boxes"])
    np.testing.assert_array_equal(_np(ours["labels"]), _np(theirs["labels"]))
    assert _np(ours["labels"]).dtype == labels.dtype
    assert (_np(ours["labels"]) == -1).any()


def test_clip_to_image_size_errors():
    with pytest.raises(NotImplementedError, match="yxyx"):
        bb.clip_to_image_size({"boxes": _boxes((2, 4))}, H, W, "yxyx")
    with pytest.raises(ValueError, match="height=None"):
        bb.clip_to_image_size({"boxes": _boxes((2, 4))}, bounding_box_format="xyxy")


def test_affine_transform_matches_keras_batched_and_unbatched():
    rng = np.random.default_rng(3)
    boxes = _boxes((2, 5, 4))
    params = [rng.uniform(-30, 30, 2), rng.uniform(-0.2, 0.2, 2), rng.uniform(-0.2, 0.2, 2),
              rng.uniform(0.7, 1.3, 2), rng.uniform(-10, 10, 2), rng.uniform(-10, 10, 2)]
    params = [p.astype("float32") for p in params]
    centers = dict(center_x=np.float32([0.4, 0.6]), center_y=np.float32([0.5, 0.3]))
    theirs = KB.affine_transform(boxes, *params, H, W, **centers)
    ours = bb.affine_transform(boxes, *params, H, W, **centers)
    _close(ours, theirs, 1e-4)
    single = bb.affine_transform(boxes[1], *[p[1:] for p in params], H, W,
                                 center_x=0.6, center_y=0.3)
    assert tuple(single.shape) == (5, 4)
    _close(single, _np(theirs)[1], 1e-4)
    identity = bb.affine_transform(boxes, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, H, W)
    _close(identity, boxes, 1e-4)
    with pytest.raises(NotImplementedError, match="bounding_box_format='yxyx'"):
        bb.affine_transform(boxes, *params, H, W, bounding_box_format="yxyx")


@pytest.mark.parametrize("shape", [(6, 4), (2, 6, 4)])
def test_crop_and_pad(shape):
    boxes = _boxes(shape, seed=4)
    _close(bb.crop(boxes, 10, 20, 30, 25), KB.crop(boxes, 10, 20, 30, 25))
    _close(bb.pad(boxes, 10, 20), KB.pad(boxes, 10, 20))
    _close(bb.pad(boxes, 3, 4, height=100, width=100), KB.pad(boxes, 3, 4))
    for fn in (bb.crop, bb.pad):
        with pytest.raises(NotImplementedError, match="xywh"):
            fn(boxes, 1, 1, 10, 10, bounding_box_format="xywh")


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
@pytest.mark.parametrize("box_format", ["xyxy", "xywh", "rel_yxyx"])
@pytest.mark.parametrize("batched", [False, True])
def test_encode_decode_deltas(encoding, box_format, batched):
    anchors = _boxes((6, 4), seed=5)
    boxes = _boxes((2, 6, 4) if batched else (6, 4), seed=6)
    kwargs = dict(variance=[0.1, 0.1, 0.2, 0.2], image_shape=(H, W, 3))
    if box_format.startswith("rel_"):
        boxes = np.asarray(KB.convert_format(boxes, "xyxy", box_format, height=H, width=W))
    ours = bb.encode_box_to_deltas(anchors, boxes, "xyxy", box_format, encoding, **kwargs)
    theirs = KB.encode_box_to_deltas(anchors, boxes, "xyxy", box_format, encoding, **kwargs)
    _close(ours, theirs, 1e-4)
    back = bb.decode_deltas_to_boxes(anchors, ours, "xyxy", box_format, encoding, **kwargs)
    _close(back, KB.decode_deltas_to_boxes(anchors, theirs, "xyxy", box_format, encoding,
                                          **kwargs), 1e-4)
    _close(back, boxes, 1e-3)


def test_decode_deltas_dict_of_levels_and_errors():
    anchors = {"P3": _boxes((4, 4), 1), "P4": _boxes((3, 4), 2)}
    deltas = {k: np.random.default_rng(0).normal(0, 0.2, (2,) + v.shape).astype("float32")
              for k, v in anchors.items()}
    ours = bb.decode_deltas_to_boxes(anchors, deltas, "xyxy", "xywh")
    theirs = KB.decode_deltas_to_boxes(
        anchors, {k: keras.ops.convert_to_tensor(v) for k, v in deltas.items()}, "xyxy", "xywh")
    assert sorted(ours) == ["P3", "P4"]
    for k in ours:
        _close(ours[k], theirs[k], 1e-4)
    with pytest.raises(ValueError, match="variance"):
        bb.encode_box_to_deltas(anchors["P3"], anchors["P3"], "xyxy", "xyxy", variance=[1, 2])
    with pytest.raises(ValueError, match="encoding_format='xyxy'"):
        bb.encode_box_to_deltas(anchors["P3"], anchors["P3"], "xyxy", "xyxy", "xyxy")
    with pytest.raises(ValueError, match="encoded_format='xywh'"):
        bb.decode_deltas_to_boxes(anchors["P3"], anchors["P3"], "xyxy", "xyxy", "xywh")


@pytest.mark.parametrize("fmt", ["xyxy", "yxyx", "center_xywh", "rel_xyxy"])
@pytest.mark.parametrize("shapes", [((5, 4), (7, 4)), ((2, 5, 4), (2, 7, 4)),
                                    ((2, 5, 4), (7, 4)), ((5, 4), (2, 7, 4))])
def test_compute_iou(fmt, shapes):
    b1, b2 = _boxes(shapes[0], 7), _boxes(shapes[1], 8)
    b2[..., 0, :] = -1.0  # a padding box, masked with use_masking
    image_shape = (H, W, 3) if fmt.startswith("rel") else None
    if fmt != "xyxy":
        b1 = np.asarray(KB.convert_format(b1, "xyxy", fmt, height=H, width=W))
        b2 = np.asarray(KB.convert_format(b2, "xyxy", fmt, height=H, width=W))
    ours = bb.compute_iou(b1, b2, fmt, image_shape=image_shape)
    theirs = KB.compute_iou(b1, b2, fmt, image_shape=image_shape)
    assert tuple(ours.shape) == tuple(theirs.shape)
    _close(ours, theirs)
    if len(shapes[0]) == len(shapes[1]) and fmt in ("xyxy", "yxyx"):
        # (Keras's masking only handles boxes1 and boxes2 of the same rank)
        _close(bb.compute_iou(b1, b2, fmt, use_masking=True, mask_val=-5),
               KB.compute_iou(b1, b2, fmt, use_masking=True, mask_val=-5))
    masked = _np(bb.compute_iou(b1, b2, fmt, use_masking=True, image_shape=image_shape))
    if fmt in ("xyxy", "yxyx"):
        assert (masked[..., 0] == -1).all()


def test_compute_iou_errors():
    with pytest.raises(ValueError, match=r"len\(boxes1.shape\)=1"):
        bb.compute_iou(np.zeros(4), np.zeros((2, 4)), "xyxy")
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_iou(np.zeros((1, 4)), np.zeros((2, 4)), "rel_xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "xywh", "center_yxhw"])
@pytest.mark.parametrize("shape", [(6, 4), (2, 6, 4)])
def test_compute_ciou(fmt, shape):
    b1, b2 = _boxes(shape, 9), _boxes(shape, 10)
    if fmt != "xyxy":
        b1 = np.asarray(KB.convert_format(b1, "xyxy", fmt))
        b2 = np.asarray(KB.convert_format(b2, "xyxy", fmt))
    ours = bb.compute_ciou(b1, b2, fmt)
    assert tuple(ours.shape) == shape[:-1]
    _close(ours, KB.compute_ciou(b1, b2, fmt))
    _close(bb.compute_ciou(b1, b1, fmt), np.ones(shape[:-1]), 1e-4)


def test_compute_ciou_relative_needs_image_shape_and_gradient_flows():
    b1, b2 = _boxes((3, 4), 11), _boxes((3, 4), 12)
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_ciou(b1 / 60, b2 / 60, "rel_xyxy")
    rel = bb.compute_ciou(b1 / np.float32(W), b2 / np.float32(W), "rel_xyxy",
                          image_shape=(W, W, 3))
    _close(rel, bb.compute_ciou(b1, b2, "xyxy"), 1e-4)
    x = fk.Variable(b1)
    with fk.GradientTape() as tape:
        loss = fk.ops.sum(1 - bb.compute_ciou(x, b2, "xyxy"))
    grad = _np(tape.gradient(loss, x))
    assert grad.shape == (3, 4) and np.isfinite(grad).all() and np.abs(grad).sum() > 0


# --- MaxNumBoundingBoxes ------------------------------------------------------------------

def _data(batched, n, seed=0):
    rng = np.random.default_rng(seed)
    lead = (2,) if batched else ()
    return {"images": rng.random(lead + (8, 8, 3)),
            "bounding_boxes": {"boxes": _boxes(lead + (n, 4), seed),
                               "labels": rng.integers(0, 5, lead + (n,))},
            "labels": np.array([1, 2]) if batched else np.array(1)}


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("n", [2, 3, 6])
def test_max_num_bounding_boxes_matches_keras(batched, n):
    kwargs = dict(max_number=3, fill_value=-2, bounding_box_format="xyxy")
    ours = fk.layers.MaxNumBoundingBoxes(**kwargs)(_data(batched, n))
    theirs = keras.layers.MaxNumBoundingBoxes(**kwargs)(_data(batched, n))
    for key in ("boxes", "labels"):
        a, b = _np(ours["bounding_boxes"][key]), _np(theirs["bounding_boxes"][key])
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    _close(ours["images"], theirs["images"])
    assert _np(ours["images"]).dtype == np.float32
    np.testing.assert_array_equal(_np(ours["labels"]), _np(theirs["labels"]))


def test_max_num_bounding_boxes_images_config_shapes_and_errors():
    layer = fk.layers.MaxNumBoundingBoxes(4, bounding_box_format="xyxy")
    images = np.zeros((2, 5, 5, 3), "uint8")
    assert _np(layer(images)).dtype == np.uint8
    config = layer.get_config()
    assert config["max_number"] == 4 and config["fill_value"] == -1
    assert config["bounding_box_format"] == "xyxy"
    again = fk.layers.MaxNumBoundingBoxes.from_config(config)
    assert again.max_number == 4
    shapes = {"images": (2, 5, 5, 3), "bounding_boxes": {"boxes": (2, 9, 4), "labels": (2, 9)}}
    out = layer.compute_output_shape(shapes)
    theirs = keras.layers.MaxNumBoundingBoxes(4).compute_output_shape(
        {"images": (2, 5, 5, 3), "bounding_boxes": {"boxes": (2, 9, 4), "labels": (2, 9)}})
    assert out == theirs
    with pytest.raises(ValueError, match="bounding_box_format=None"):
        fk.layers.MaxNumBoundingBoxes(4)(_data(True, 2))
    with pytest.raises(ValueError, match="max_number=-1"):
        fk.layers.MaxNumBoundingBoxes(-1)
    with pytest.raises(KeyError, match="scores"):
        layer.compute_output_shape({"bounding_boxes": {"boxes": (2, 9, 4), "labels": (2, 9),
                                                       "scores": (2, 9)}})
