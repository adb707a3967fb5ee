"""A tiny ONNX model with LaMa's signature: ``image`` (1x3xHxW, 0..1) + ``mask`` (1x1xHxW) -> ``output``.

Under the mask it puts the image's local mean (a 15x15 average that skips masked pixels), elsewhere the image
itself; the output is scaled to 0..255 as the usual LaMa exports do (or left in 0..1).
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def build_tiny_lama(path: Path, side: int | None = 64, *, scale_255: bool = True) -> Path:
    """Write the model to ``path``: fixed ``side`` x ``side`` inputs, or free sizes when ``side`` is None."""
    height: int | str = side if side else "height"
    width: int | str = side if side else "width"
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, height, width])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, height, width])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, height, width])
    pool = {"kernel_shape": [15, 15], "pads": [7, 7, 7, 7], "strides": [1, 1]}
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["keep"]),
        helper.make_node("Mul", ["image", "keep"], ["known"]),
        helper.make_node("AveragePool", ["known"], ["known_sum"], **pool),
        helper.make_node("AveragePool", ["keep"], ["keep_sum"], **pool),
        helper.make_node("Add", ["keep_sum", "tiny"], ["keep_safe"]),
        helper.make_node("Div", ["known_sum", "keep_safe"], ["local_mean"]),
        helper.make_node("Mul", ["local_mean", "mask"], ["filled"]),
        helper.make_node("Add", ["known", "filled"], ["joined"]),
        helper.make_node("Mul", ["joined", "scale"], ["output"]),
    ]
    constants = [
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("tiny", TensorProto.FLOAT, [], [1e-6]),
        helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0 if scale_255 else 1.0]),
    ]
    graph = helper.make_graph(nodes, "tiny_lama", [image, mask], [output], initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
