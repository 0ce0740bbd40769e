"""The onnxruntime cases of ``cpu_peaks.py``: float32 ``MatMul`` / ``Conv``
and int8 ``MatMulInteger`` / ``QLinearConv`` models built with
``onnx.helper`` at the sizes that script times, each as a call ready to
time (or, without onnx / onnxruntime, the reason it cannot run)."""
import numpy as np


def onnx_model(nodes, inputs, outputs, inits):
    import onnx
    from onnx import helper
    graph = helper.make_graph(nodes, 'peak', inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8  # any onnxruntime >= 1.10 reads it
    onnx.checker.check_model(model)
    return model.SerializeToString()


def ort_models(size: dict) -> dict:
    """(op, precision) -> (serialised model, feed array)."""
    from onnx import TensorProto as T
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)
    n, (bs, c, h, w) = size['gemm'], size['conv']
    vi, init = helper.make_tensor_value_info, numpy_helper.from_array
    consts = lambda **kw: [init(np.asarray(v), k) for k, v in kw.items()]  # noqa: E731
    a = rng.standard_normal((n, n), dtype=np.float32)
    x = rng.standard_normal((bs, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c, c, 3, 3), dtype=np.float32)
    pads = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    models = {
        ('gemm', 'fp32'): (onnx_model(
            [helper.make_node('MatMul', ['A', 'B'], ['Y'])],
            [vi('A', T.FLOAT, [n, n])], [vi('Y', T.FLOAT, [n, n])],
            consts(B=a)), a),
        ('conv3x3', 'fp32'): (onnx_model(
            [helper.make_node('Conv', ['X', 'W'], ['Y'], **pads)],
            [vi('X', T.FLOAT, [bs, c, h, w])], [vi('Y', T.FLOAT, [bs, c, h, w])],
            consts(W=wt)), x),
        ('gemm', 'int8'): (onnx_model(
            [helper.make_node('MatMulInteger', ['A', 'B', 'az', 'bz'], ['Y'])],
            [vi('A', T.UINT8, [n, n])], [vi('Y', T.INT32, [n, n])],
            consts(B=rng.integers(-64, 64, (n, n), dtype=np.int8),
                   az=np.uint8(128), bz=np.int8(0))),
            rng.integers(0, 255, (n, n), dtype=np.uint8)),
        ('conv3x3', 'int8'): (onnx_model(
            [helper.make_node('QLinearConv', ['X', 'xs', 'xz', 'W', 'ws', 'wz',
                                              'ys', 'yz'], ['Y'], **pads)],
            [vi('X', T.UINT8, [bs, c, h, w])], [vi('Y', T.UINT8, [bs, c, h, w])],
            consts(xs=np.float32(0.05), xz=np.uint8(128),
                   W=rng.integers(-64, 64, (c, c, 3, 3), dtype=np.int8),
                   ws=np.float32(0.02), wz=np.int8(0), ys=np.float32(0.5),
                   yz=np.uint8(128))),
            rng.integers(0, 255, (bs, c, h, w), dtype=np.uint8)),
    }
    return models


def ort_cases(size: dict, threads: int) -> dict:
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort
    except ImportError as e:
        return {(op, 'onnxruntime', p): f'not installed ({e})'
                for op in ('gemm', 'conv3x3') for p in ('fp32', 'int8')}
    from mmseg_temporal.inference.frame_models import cpu_session_options
    cases = {}
    for (op, precision), (model, feed) in ort_models(size).items():
        sess = ort.InferenceSession(model, cpu_session_options(threads),
                                    providers=['CPUExecutionProvider'])
        name = sess.get_inputs()[0].name
        cases[(op, 'onnxruntime', precision)] = (
            lambda s=sess, n=name, f=feed: s.run(None, {n: f}))
    return cases
