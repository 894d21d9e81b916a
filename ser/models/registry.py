"""The encoder registry, config parsing and ``build_model``.

A new encoder is one file::

    @dataclass
    class MyConfig:
        hidden_size: int = 128

    @register_encoder("mine", config=MyConfig)          # input_kind="frames" by default
    class MyEncoder(nn.Module):
        def __init__(self, input_dim: int, config: MyConfig): ...; self.output_dim = ...
        def forward(self, x, lengths=None):  # x (B, T, D) padded, lengths (B,)
            return embedding, {}              # (B, output_dim), dict of tensors for inspection

Every config field needs a default (``ser list-encoders`` prints them). Encoders taking one vector per
utterance (functionals) register with ``input_kind="utterance"`` and get ``x: (B, D)``.

Models that are not torch encoders (the SVM, logistic regression: complete classifiers with their own fit)
register with :func:`register_classifier` and implement :class:`ser.classifier.Classifier` themselves; the
same registry, configs and ``encoder:`` key select them. Built-in names are imported one module at a time
on first use (``_BUILTINS``), so a torch-free model never imports torch. Third-party packages expose encoders through the entry-point group ``ser.encoders``
(``mine = my_pkg.my_module:MyEncoder``); the entry point is loaded the first time an unknown name is
looked up, and the loaded module is expected to register the name with :func:`register_encoder`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from ser.errors import SerError

ENTRY_POINT_GROUP = "ser.encoders"
INPUT_KINDS = ("frames", "utterance")
#: what a registered name is: a torch encoder (composed with heads, trained by ser.trainer) or a complete
#: non-torch classifier (fit/posteriors of its own)
KINDS = ("torch", "estimator")
#: built-in names and the module that registers each (imported on first lookup of the name)
_BUILTINS: dict[str, str] = {
    "blstm": "ser.models.blstm",
    "gagru": "ser.models.gagru",
    "bigru_att": "ser.models.gagru",
    "alstm": "ser.models.alstm",
    "alstm_mean": "ser.models.alstm",
    "alstm_lstm": "ser.models.alstm",
    "dnn": "ser.models.dnn",
    "svm": "ser.models.svm",
    "logreg": "ser.models.logreg",
}


class RegistryError(SerError, ValueError):
    """A registry problem: duplicate or unknown encoder name, broken plugin."""


class ConfigError(SerError, ValueError):
    """An encoder or heads config with unknown keys or values of the wrong type."""


@dataclass(frozen=True)
class EncoderEntry:
    """One registered encoder: the class, its config dataclass, input kind and default heads."""

    name: str
    cls: type
    config: type
    input_kind: str = "frames"
    default_heads: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = "builtin"
    kind: str = "torch"

    def make_config(self, conf: dict[str, Any] | None = None):
        return make_config(self.config, conf, where=f"encoder_conf of '{self.name}'")

    def defaults(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config())

    def build(self, input_dim: int, conf: dict[str, Any] | None = None):
        config = conf if dataclasses.is_dataclass(conf) and not isinstance(conf, type) else self.make_config(conf)
        encoder = self.cls(int(input_dim), config)
        if not isinstance(getattr(encoder, "output_dim", None), int):
            raise RegistryError(f"encoder '{self.name}' ({self.cls.__name__}) must set an int attribute output_dim")
        return encoder


_REGISTRY: dict[str, EncoderEntry] = {}
_FAILED_PLUGINS: dict[str, str] = {}


def register_encoder(
    name: str,
    config: type,
    input_kind: str = "frames",
    default_heads: dict[str, Any] | None = None,
    description: str | None = None,
    kind: str = "torch",
) -> Callable[[type], type]:
    """Class decorator: register ``cls`` under ``name``. A name already taken is an error.

    The same class may be registered under several names with different config dataclasses (e.g. a
    baseline that only changes a default). ``default_heads`` are the paper's head settings for this
    encoder (a :class:`~ser.models.heads.HeadsConfig` dict); ``heads_conf`` in ``build_model`` overrides them.
    """
    if input_kind not in INPUT_KINDS:
        raise RegistryError(f"encoder '{name}': input_kind must be one of {INPUT_KINDS}, not '{input_kind}'")
    if not dataclasses.is_dataclass(config):
        raise RegistryError(f"encoder '{name}': config must be a dataclass, got {config!r}")
    if kind not in KINDS:
        raise RegistryError(f"encoder '{name}': kind must be one of {KINDS}, not '{kind}'")

    def decorate(cls: type) -> type:
        if name in _BUILTINS and cls.__module__ != _BUILTINS[name]:
            raise RegistryError(f"encoder name '{name}' is already registered by the built-in {_BUILTINS[name]}; choose another name")
        if name in _REGISTRY:
            other = _REGISTRY[name]
            raise RegistryError(
                f"encoder name '{name}' is already registered by {other.cls.__module__}.{other.cls.__qualname__} "
                f"({other.source}); choose another name"
            )
        text = description if description is not None else ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        source = "builtin" if cls.__module__ in _BUILTINS.values() else cls.__module__
        _REGISTRY[name] = EncoderEntry(
            name, cls, config, input_kind, copy.deepcopy(dict(default_heads or {})), text.strip(), source, kind
        )
        if not hasattr(cls, "input_kind"):
            cls.input_kind = input_kind
        return cls

    return decorate


def register_classifier(name: str, config: type, input_kind: str = "utterance",
                        description: str | None = None) -> Callable[[type], type]:
    """Class decorator for a complete non-torch classifier (``ser.classifier.Classifier``: fit, posteriors,
    state, from_state); it needs no heads and no trainer."""
    return register_encoder(name, config, input_kind=input_kind, description=description, kind="estimator")


def unregister_encoder(name: str) -> None:
    """Remove a name (tests, interactive work). Unknown names are ignored."""
    _REGISTRY.pop(name, None)


def _ensure_builtins(name: str | None = None) -> None:
    """Import the module that registers built-in `name` (every built-in module when None)."""
    modules = set(_BUILTINS.values()) if name is None else {_BUILTINS[name]} if name in _BUILTINS else set()
    for module in sorted(modules):
        importlib.import_module(module)


def _plugin_entry_points() -> list:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load_plugin(name: str) -> bool:
    """Load the ``ser.encoders`` entry point called ``name``; True if it now is registered."""
    for ep in _plugin_entry_points():
        if ep.name != name:
            continue
        try:
            ep.load()
        except RegistryError:
            raise
        except Exception as exc:  # a broken third-party package: say which one
            raise RegistryError(f"entry point {ENTRY_POINT_GROUP} '{name}' = {ep.value} failed to load: {exc}") from exc
        if name not in _REGISTRY:
            raise RegistryError(
                f"entry point {ENTRY_POINT_GROUP} '{name}' = {ep.value} loaded but registered no encoder "
                f"named '{name}' (decorate the class with @register_encoder('{name}', config=...))"
            )
        return True
    return False


def get_encoder(name: str) -> EncoderEntry:
    """The entry for ``name``: built-ins first, then the ``ser.encoders`` entry points (loaded lazily)."""
    if name not in _REGISTRY:
        _ensure_builtins(name)
    if name not in _REGISTRY and not _load_plugin(name):
        _ensure_builtins()
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise RegistryError(
            f"unknown encoder '{name}' (known: {known}; plugins come from entry points '{ENTRY_POINT_GROUP}')"
        )
    return _REGISTRY[name]


def list_encoders(load_plugins: bool = True) -> list[EncoderEntry]:
    """Every registered encoder, sorted by name. Plugins that fail to load are skipped with a warning."""
    _ensure_builtins()
    if load_plugins:
        for ep in _plugin_entry_points():
            if ep.name in _REGISTRY or ep.name in _FAILED_PLUGINS:
                continue
            try:
                _load_plugin(ep.name)
            except RegistryError as exc:
                _FAILED_PLUGINS[ep.name] = str(exc)
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


# ---------------------------------------------------------------------------------------------- configs


def _coerce(value: Any, default: Any, where: str, key: str) -> Any:
    """Light type coercion from YAML / command-line values toward the type of the default."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "yes", "1", "on"):
                    return True
                if low in ("false", "no", "0", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if isinstance(default, tuple) and isinstance(value, (list, tuple)):
            return tuple(value)
        if isinstance(default, list) and isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(default, str) and not isinstance(value, str):
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: '{key}' must be of type {type(default).__name__} (default {default!r}), got {value!r}"
        ) from None
    return value


def make_config(config_cls: type, conf: dict[str, Any] | None = None, where: str = "config"):
    """Instantiate a config dataclass from a plain dict: unknown keys are an error naming the valid ones."""
    conf = dict(conf or {})
    names = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(conf) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown} (valid keys: {', '.join(names)})")
    defaults = config_cls()
    values = {key: _coerce(value, getattr(defaults, key), where, key) for key, value in conf.items()}
    try:
        return config_cls(**values)
    except SerError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def merge_heads_conf(defaults: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Heads overrides win over an encoder's default heads; ``weights`` and ``num_classes`` merge by key."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in copy.deepcopy(dict(overrides or {})).items():
        if key in ("weights", "num_classes") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def build_model(
    encoder_name: str,
    encoder_conf: dict[str, Any] | None,
    input_dim: int,
    num_classes: int,
    heads_conf: dict[str, Any] | None = None,
):
    """Encoder from the registry + multitask heads -> :class:`~ser.models.heads.SERModel`.

    ``heads_conf`` (a :class:`~ser.models.heads.HeadsConfig` dict) overrides the encoder's paper defaults,
    e.g. ``{"tasks": ["emotion", "speaker"], "num_classes": {"speaker": 8}, "weights": {"speaker": 0.3}}``.
    """
    from ser.models.heads import HeadsConfig, MultiTaskHeads, SERModel

    entry = get_encoder(encoder_name)
    enc_cfg = entry.make_config(encoder_conf)
    heads_dict = merge_heads_conf(entry.default_heads, heads_conf)
    heads_cfg = make_config(HeadsConfig, heads_dict, where=f"heads_conf of '{encoder_name}'")
    encoder = entry.build(input_dim, enc_cfg)
    classes = heads_cfg.task_classes(num_classes)
    heads = MultiTaskHeads(encoder.output_dim, classes, hidden=heads_cfg.hidden, dropout=heads_cfg.dropout,
                           weights=heads_cfg.task_weights())
    spec = {
        "encoder": encoder_name,
        "encoder_conf": dataclasses.asdict(enc_cfg),
        "input_dim": int(input_dim),
        "num_classes": int(num_classes),
        "heads_conf": dataclasses.asdict(heads_cfg),
    }
    return SERModel(encoder, heads, input_kind=entry.input_kind, spec=spec)


def build_model_from_spec(spec: dict[str, Any]):
    """Rebuild the architecture recorded in ``model.spec`` (weights are loaded separately)."""
    return build_model(spec["encoder"], spec.get("encoder_conf"), spec["input_dim"], spec["num_classes"],
                       spec.get("heads_conf"))


__all__ = [
    "ConfigError",
    "ENTRY_POINT_GROUP",
    "EncoderEntry",
    "INPUT_KINDS",
    "KINDS",
    "RegistryError",
    "build_model",
    "build_model_from_spec",
    "get_encoder",
    "list_encoders",
    "make_config",
    "merge_heads_conf",
    "register_classifier",
    "register_encoder",
    "unregister_encoder",
]
