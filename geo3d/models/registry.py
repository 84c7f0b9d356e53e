"""The one registry: whole models by name (components are built directly, by arguments)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Register a factory ``(**options) -> nn.Module`` under ``name``."""

    def decorator(factory):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = factory
        return factory

    return decorator


def available_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, **options) -> nn.Module:
    """Build the model registered as ``name`` with the factory's keyword arguments."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    try:
        return _MODELS[name](**options)
    except TypeError as error:
        raise ValueError(f"bad options for model {name!r}: {error}") from None
