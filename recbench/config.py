"""Building objects from config with errors a user can act on."""

from __future__ import annotations

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from recbench.errors import RecbenchError


def build(node: DictConfig, what: str, **kwargs):
    """``instantiate(node, **kwargs)``, turning constructor errors into one readable message."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, RecbenchError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword argument" in str(cause):
            raise RecbenchError(f"{what} config has a key that {node.get('_target_')} does not take: {cause}. "
                                f"Fix its spelling or remove it") from None
        raise RecbenchError(f"could not build {what} ({node.get('_target_')}): {cause or error}") from None
