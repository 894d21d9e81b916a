"""Encoders, pooling, heads and the registry of every model (torch encoders and non-torch classifiers).

``build_model(encoder_name, encoder_conf, input_dim, num_classes, heads_conf)`` gives an
:class:`SERModel` whose forward returns ``{task: logits}``; ``list_encoders()`` lists what is registered
(built-ins plus third-party encoders from the ``ser.encoders`` entry-point group).

Names are resolved lazily (PEP 562): importing ``ser.models`` or ``ser.models.registry`` does not import
torch, so an SVM or logistic-regression run never pays for it. Built-in encoders register themselves when
the registry first looks their name up.
"""

from __future__ import annotations

import importlib
from typing import Any

_FROM_HEADS = ("DEFAULT_TASK_WEIGHTS", "ClassifierHead", "HeadsConfig", "MultiTaskHeads", "SERModel", "multitask_loss")
_FROM_REGISTRY = (
    "ENTRY_POINT_GROUP",
    "ConfigError",
    "EncoderEntry",
    "RegistryError",
    "build_model",
    "build_model_from_spec",
    "get_encoder",
    "list_encoders",
    "make_config",
    "register_classifier",
    "register_encoder",
    "unregister_encoder",
)

__all__ = [*_FROM_HEADS, *_FROM_REGISTRY]


def __getattr__(name: str) -> Any:
    if name in _FROM_HEADS:
        return getattr(importlib.import_module("ser.models.heads"), name)
    if name in _FROM_REGISTRY:
        return getattr(importlib.import_module("ser.models.registry"), name)
    raise AttributeError(f"module 'ser.models' has no attribute '{name}'")
