"""plot_model / model_to_dot on nested models and operation nodes: `expand_nested=True` draws a
model used as a layer as a dashed cluster holding its own layers (edges go to the boxes
inside), and the label options, `rankdir` and `dpi` reach the dot source."""

import re

import pytest

import fastkeras as fk
from fastkeras.utils import model_visualization as mv

pytest.importorskip("pydot")


def nested_model():
    i = fk.Input((4,), name="inner_in")
    inner = fk.Model(i, fk.layers.Dense(3, activation="relu", name="inner_dense")(i),
                     name="inner_block")
    seq = fk.Sequential([fk.Input((3,)), fk.layers.Dense(5, name="seq_a"),
                         fk.layers.Dense(2, name="seq_b")], name="seq_block")
    x = fk.Input((4,), name="outer_in")
    y = seq(inner(x))
    frozen = fk.layers.Dense(1, name="frozen_head")
    frozen.trainable = False
    return fk.Model(x, frozen(fk.ops.relu(y) * 2.0), name="outer")


def node_ids(dot):
    return {n.get_name().strip('"') for n in dot.get_nodes()}


def label_of(dot, layer):
    for n in dot.get_nodes() + [m for sg in dot.get_subgraphs() for m in sg.get_nodes()]:
        if n.get_name().strip('"') == str(id(layer)):
            return n.get("label")
    raise AssertionError(f"no box for {layer.name}")


def edges(dot):
    """Every edge, those drawn inside clusters included."""
    out = {(e.get_source().strip('"'), e.get_destination().strip('"'))
           for e in dot.get_edges()}
    for sg in dot.get_subgraphs():
        out |= edges(sg)
    return out


def test_collapsed_nested_models_are_single_boxes():
    model = nested_model()
    dot = mv.model_to_dot(model)
    inner, seq = model.get_layer("inner_block"), model.get_layer("seq_block")
    assert not dot.get_subgraphs()
    assert {str(id(inner)), str(id(seq))} <= node_ids(dot)
    assert (str(id(inner)), str(id(seq))) in edges(dot)
    # operation nodes are boxes too, wired like layers
    relu = next(l for l in model._layers if type(l).__name__ == "Relu")
    assert (str(id(seq)), str(id(relu))) in edges(dot)
    assert "(Relu)" in label_of(dot, relu)


def test_expand_nested_draws_clusters_with_inner_layers():
    model = nested_model()
    dot = mv.model_to_dot(model, expand_nested=True)
    inner, seq = model.get_layer("inner_block"), model.get_layer("seq_block")
    clusters = {sg.get_name(): sg for sg in dot.get_subgraphs()}
    assert set(clusters) == {"cluster_inner_block", "cluster_seq_block"}
    assert clusters["cluster_inner_block"].get("style") == "dashed"
    assert clusters["cluster_inner_block"].get("label") == "inner_block"
    inner_ids = node_ids(clusters["cluster_inner_block"])
    assert inner_ids == {str(id(l)) for l in inner.layers}
    # a nested Sequential shows its layers, not its InputLayer
    assert node_ids(clusters["cluster_seq_block"]) == {str(id(l)) for l in seq.layers}
    assert str(id(inner)) not in node_ids(dot) and str(id(seq)) not in node_ids(dot)
    e = edges(dot)
    outer_in, inner_in = model.get_layer("outer_in"), inner.get_layer("inner_in")
    inner_dense = inner.get_layer("inner_dense")
    assert (str(id(outer_in)), str(id(inner_in))) in e          # into the nested model's input
    assert (str(id(inner_in)), str(id(inner_dense))) in e       # drawn inside the cluster
    assert (str(id(inner_dense)), str(id(seq.layers[0]))) in e  # out of one, into the next
    assert (str(id(seq.layers[0])), str(id(seq.layers[1]))) in e
    src = dot.to_string()
    assert re.search(r"subgraph cluster_inner_block \{", src)


def test_label_options_rankdir_and_dpi_reach_the_dot_source():
    model = nested_model()
    dot = mv.model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_activations=True,
                          show_trainable=True, rankdir="LR", dpi=72, expand_nested=True)
    src = dot.to_string()
    assert "rankdir=LR" in src and "dpi=72" in src
    inner_dense = model.get_layer("inner_block").get_layer("inner_dense")
    label = label_of(dot, inner_dense)
    assert "Activation: <b>relu</b>" in label
    assert "Output dtype: <b>float32</b>" in label
    assert "Output shape: <b>(None, 3)</b>" in label
    assert "<b>Trainable</b>" in label
    assert "<b>Non-trainable</b>" in label_of(dot, model.get_layer("frozen_head"))
    plain = mv.model_to_dot(model).to_string()
    assert "Activation" not in plain and "Output dtype" not in plain and "Trainable" not in plain
    assert "rankdir=TB" in plain and "dpi=200" in plain


def test_plot_model_writes_png_of_expanded_model(tmp_path):
    if not mv.check_graphviz():
        pytest.skip("Graphviz's dot is not installed")
    path = tmp_path / "nested.png"
    fk.utils.plot_model(nested_model(), to_file=str(path), expand_nested=True, show_shapes=True,
                        show_dtype=True, show_trainable=True, show_layer_activations=True,
                        rankdir="LR", dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_keyword_is_rejected():
    with pytest.raises(ValueError, match="unrecognized keyword arguments"):
        mv.model_to_dot(nested_model(), layer_range=["a", "b"])
