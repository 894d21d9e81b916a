"""Neural encoders, pooling, heads and the encoder registry.

``build_model(encoder_name, encoder_conf, input_dim, num_classes, heads_conf)`` gives an
:class:`SERModel` whose forward returns ``{task: logits}``; ``list_encoders()`` lists what is registered
(built-ins below plus third-party encoders from the ``ser.encoders`` entry-point group).
"""

from ser.models.heads import (
    DEFAULT_TASK_WEIGHTS,
    ClassifierHead,
    HeadsConfig,
    MultiTaskHeads,
    SERModel,
    multitask_loss,
)
from ser.models.registry import (
    ENTRY_POINT_GROUP,
    ConfigError,
    EncoderEntry,
    RegistryError,
    build_model,
    build_model_from_spec,
    get_encoder,
    list_encoders,
    make_config,
    register_encoder,
    unregister_encoder,
)

# Built-in encoders register themselves on import.
from ser.models import alstm, blstm, dnn, gagru  # noqa: E402,F401  (isort: skip)

__all__ = [
    "DEFAULT_TASK_WEIGHTS",
    "ENTRY_POINT_GROUP",
    "ClassifierHead",
    "ConfigError",
    "EncoderEntry",
    "HeadsConfig",
    "MultiTaskHeads",
    "RegistryError",
    "SERModel",
    "build_model",
    "build_model_from_spec",
    "get_encoder",
    "list_encoders",
    "make_config",
    "multitask_loss",
    "register_encoder",
    "unregister_encoder",
]
