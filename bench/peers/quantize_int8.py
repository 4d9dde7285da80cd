#!/usr/bin/env python3
"""Dynamic int8 quantization of an exported CLIP encoder, with the `onnx` package only (the
Python onnxruntime, whose quantize_dynamic does this, is not installable here).

  quantize_int8.py IN.onnx OUT.onnx

The node pattern of onnxruntime.quantization.quantize_dynamic with its defaults (QInt8
weights, per tensor, symmetric; uint8 activations quantized per call):

  x -> DynamicQuantizeLinear -> (xq, xs, xzp)
  MatMulInteger(xq, Wq, xzp, 0) -> Cast(float) -> Mul(xs * ws) -> y

for every MatMul whose second input is a 2-D float32 initializer (the Linear layers; torch
exports those on 3-D inputs as MatMul with a transposed weight). A Gemm(transB=1) with a
constant weight (a Linear on a 2-D input: the projections) becomes MatMul [+ Add] first.
ONNX Runtime fuses the pattern into MatMulIntegerToFloat (MLAS u8s8 QGEMM). The attention
products (both inputs computed) and the patch-embedding Conv stay float32, as with ORT's tool.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def gemm_to_matmul(node, inits):
    """[MatMul, Add] for a Gemm(A, W^T, b) with constant W, else None."""
    at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if (node.op_type != "Gemm" or node.input[1] not in inits or at.get("transA", 0)
            or not at.get("transB", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0):
        return None
    wt = node.input[1] + "_t"
    inits[wt] = numpy_helper.from_array(numpy_helper.to_array(inits[node.input[1]]).T.copy(), wt)
    has_bias = len(node.input) > 2 and node.input[2]
    mm_out = node.output[0] + "_mm" if has_bias else node.output[0]
    out = [helper.make_node("MatMul", [node.input[0], wt], [mm_out], name=node.name + "_matmul")]
    if has_bias:
        out.append(helper.make_node("Add", [mm_out, node.input[2]], [node.output[0]], name=node.name + "_add"))
    return out


def quantize(node, inits, k):
    """The dynamic-quantization nodes and their new initializers for one MatMul."""
    w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
    scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127.0)
    wq = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    p = f"q{k}"
    new = [numpy_helper.from_array(wq, p + "_w"), numpy_helper.from_array(np.array(scale), p + "_ws"),
           numpy_helper.from_array(np.array(0, np.int8), p + "_wzp")]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", [node.input[0]], [p + "_x", p + "_xs", p + "_xzp"], name=p + "_dql"),
        helper.make_node("MatMulInteger", [p + "_x", p + "_w", p + "_xzp", p + "_wzp"], [p + "_i"], name=p + "_mmi"),
        helper.make_node("Cast", [p + "_i"], [p + "_f"], name=p + "_cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", [p + "_xs", p + "_ws"], [p + "_s"], name=p + "_scale"),
        helper.make_node("Mul", [p + "_f", p + "_s"], [node.output[0]], name=p + "_mul"),
    ]
    return nodes, new


def main(src, dst):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    nodes, added, k = [], [], 0
    for n in g.node:
        for node in gemm_to_matmul(n, inits) or [n]:
            w = inits.get(node.input[1]) if node.op_type == "MatMul" else None
            if w is not None and len(w.dims) == 2 and w.data_type == TensorProto.FLOAT:
                qn, qi = quantize(node, inits, k)
                nodes += qn
                added += qi
                k += 1
            else:
                nodes.append(node)
    used = {i for n in nodes for i in n.input}
    keep = [inits[name] for name in inits if name in used] + [i for i in added if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    print(f"{src}: {k} MatMul weights quantized to int8 -> {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: quantize_int8.py IN.onnx OUT.onnx")
    main(sys.argv[1], sys.argv[2])
