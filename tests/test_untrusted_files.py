"""Every place that reads a checkpoint does it without unpickling code."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_torch_load_is_weights_only():
    offenders = []
    for folder in ("recbench", "plugins", "scripts", "hydra_plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for match in re.finditer(r"torch\.load\(", text):
                call = text[match.start():text.find(")", match.start()) + 1]
                if "weights_only=True" not in call:
                    offenders.append(f"{path.relative_to(ROOT)}: {call}")
    assert not offenders, offenders
