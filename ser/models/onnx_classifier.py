"""A torch encoder's exported ONNX graph behind the classifier protocol's scoring half, run by onnxruntime.

Why: scoring with a GA-GRU/BLSTM/A-LSTM model then needs neither torch nor its 5 GB of wheels (the runtime
install plus onnxruntime). Batching and padding are ``ser.batching``'s, as on the torch path, so both give
the same posteriors (checked at export, ``ser.onnx_export.check_graph``). Such a model only scores; training
stays with torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ser.batching import make_batches, pad_frames, stack_vectors
from ser.classifier import POSTERIORS
from ser.errors import SerError


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxClassifier:
    """Posteriors from an ONNX graph with inputs ``features`` (+ ``lengths``) and output ``posteriors``."""

    output_kind = POSTERIORS
    selects_on_validation = True

    def __init__(self, graph: bytes, classes: Sequence[str], threads: int = 0, batch_size: int = 64) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise SerError("this model's ONNX graph needs onnxruntime: pip install 'ser[onnx]' "
                           "(or install 'ser[train]' to score it with torch)") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        try:
            self.session = ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise SerError(f"the model's ONNX graph cannot be loaded by onnxruntime {ort.__version__} "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        self.classes = list(classes)
        #: frame encoders take padded frames plus their lengths; utterance-level ones one vector each
        self.frame_level = "lengths" in {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size

    def posteriors(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        if not len(inputs):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        lengths = np.array([x.shape[0] for x in inputs])
        out = np.zeros((len(inputs), len(self.classes)), dtype=np.float32)
        for batch in make_batches(lengths, self.batch_size, None):
            chosen = [inputs[i] for i in batch]
            if self.frame_level:
                features, lens = pad_frames(chosen)
                feed = {"features": features, "lengths": lens}
            else:
                feed = {"features": stack_vectors(chosen)}
            out[batch] = self.session.run(["posteriors"], feed)[0]
        return out


__all__ = ["OnnxClassifier", "onnxruntime_available"]
