"""Neural Matrix Factorization: GMF and the MLP tower fused (He et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from recbench.errors import RecbenchError, require_fraction
from recbench.nn import GMFBranch, MLPBranch, PointwiseNCF


def load_branch(branch: nn.Module, output: nn.Linear, path: str | None, name: str) -> None:
    """Load a trained GMF or MLP run's weights (``<run>/checkpoints/best.ckpt``) into a branch.

    The Lightning checkpoint holds the plugin under ``model.``: its ``branch.*`` weights go to
    ``branch`` and its ``output.*`` layer to ``output``. Loaded with ``weights_only=True``: a
    checkpoint is a file a user hands us, and a crafted pickle would otherwise run code.
    """
    if path is None:
        return
    file = Path(path).expanduser()
    if not file.is_file():
        raise RecbenchError(f"model.{name} {str(file)!r} is not a file: give the best.ckpt written in "
                            f"the checkpoints/ folder of a {name.split('_')[0]} run, or null")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # not a torch file, or one that holds more than tensors
        raise RecbenchError(f"model.{name} {str(file)!r} is not a recbench checkpoint that loads safely "
                            f"(weights only): {error}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else {}
    weights = {key.removeprefix("model."): value for key, value in state.items()}
    try:
        branch.load_state_dict({k.removeprefix("branch."): v for k, v in weights.items() if k.startswith("branch.")})
        output.load_state_dict({k.removeprefix("output."): v for k, v in weights.items() if k.startswith("output.")})
    except RuntimeError as error:
        raise RecbenchError(f"model.{name} {str(file)!r} does not fit this NeuMF (embedding_dim and "
                            f"hidden_dims must match the trained model): {error}") from None


class NeuMF(PointwiseNCF):
    """GMF's product vector and the MLP's last hidden layer, concatenated, to one logit.

    He et al., "Neural Collaborative Filtering", WWW 2017, section 3.4. The branches have their
    own embeddings. With ``gmf_checkpoint`` and ``mlp_checkpoint`` both branches start from trained
    models and the output layer from ``[alpha * h_gmf, (1 - alpha) * h_mlp]`` (section 3.4.1;
    the paper then trains with plain SGD: set ``optimizer._target_=torch.optim.SGD``).

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: GMF factor size.
        mlp_embedding_dim: size of the MLP branch's user and item embeddings.
        hidden_dims: the MLP branch's hidden ReLU layer sizes.
        dropout: dropout after each MLP hidden layer.
        gmf_checkpoint: a trained GMF's ``best.ckpt``, or None.
        mlp_checkpoint: a trained MLP's ``best.ckpt``, or None.
        alpha: the weight of the GMF branch when both checkpoints are given.
        num_negatives: sampled unseen items per training interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters.
        use_features: add side features to the embeddings: an id's vector becomes its embedding
            plus a linear map of its features, and a cold id's (no training interaction) the
            features' part alone. Off: the plain model, unchanged.
        feature_inputs: which side features to use when ``use_features``: ``item``, ``user`` or both.
        item_features: item side features (given by recbench when ``use_features``).
        user_features: user side features (given by recbench when ``use_features``).
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 32, mlp_embedding_dim: int = 32,
                 hidden_dims: Sequence[int] = (32, 16), dropout: float = 0.0,
                 gmf_checkpoint: str | None = None, mlp_checkpoint: str | None = None, alpha: float = 0.5,
                 num_negatives: int = 4, batch_size: int = 1024, optimizer: Callable | None = None, use_features: bool = False,
                 feature_inputs: Sequence[str] = ("item",), item_features=None, user_features=None):
        super().__init__()
        side = self._init_training("neumf", n_users, n_items, num_negatives, batch_size, optimizer, use_features,
                                   feature_inputs, item_features, user_features)
        require_fraction("model.alpha", alpha, closed=True)
        # The branches' own output layers (as the gmf and mlp plugins have them) only serve to
        # initialise the fused output from pretrained runs; they are not trained.
        self.gmf = GMFBranch(n_users, n_items, embedding_dim, **side)
        self.gmf_output = nn.Linear(embedding_dim, 1).requires_grad_(False)
        self.mlp = MLPBranch(n_users, n_items, mlp_embedding_dim, hidden_dims, dropout, **side)
        self.mlp_output = nn.Linear(self.mlp.out_features, 1).requires_grad_(False)
        load_branch(self.gmf, self.gmf_output, gmf_checkpoint, "gmf_checkpoint")
        load_branch(self.mlp, self.mlp_output, mlp_checkpoint, "mlp_checkpoint")
        self.output = nn.Linear(embedding_dim + self.mlp.out_features, 1)
        if gmf_checkpoint is not None and mlp_checkpoint is not None:
            with torch.no_grad():
                self.output.weight.copy_(torch.cat([alpha * self.gmf_output.weight,
                                                    (1 - alpha) * self.mlp_output.weight], dim=1))
                self.output.bias.copy_(alpha * self.gmf_output.bias + (1 - alpha) * self.mlp_output.bias)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits ``[*S]`` for user-item pairs broadcast to a common shape ``S``."""
        gmf = self.gmf(users, items)  # [*S, d]
        mlp = self.mlp(users, items)  # [*S, h]
        return self.output(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)

    def branches(self) -> tuple[nn.Module, ...]:
        return (self.gmf, self.mlp)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        # The output layer is linear in [gmf; mlp], so each part is scored on its own: the GMF
        # part becomes one matrix product and never builds a [B, n_items, d] tensor.
        d = self.gmf.out_features
        w_gmf, w_mlp = self.output.weight[0, :d], self.output.weight[0, d:]
        gmf = self.gmf.score_all(users, w_gmf)  # [B, n_items]
        mlp = self.mlp.score_all(users, w_mlp)  # [B, n_items]
        return gmf + mlp + self.output.bias
