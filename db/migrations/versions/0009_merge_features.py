"""Join the feature branches (metrics, digest, requests, quality, home) into one head.

They were developed in parallel, each on top of the foundation; from here on the history is linear,
so a new migration names `0009_merge_features` as its `down_revision`.

Revision ID: 0009_merge_features
Revises: 0002_metrics, 0005_digest, 0006_requests, 0007_quality, 0008_home
"""

from __future__ import annotations

revision = "0009_merge_features"
down_revision = ("0002_metrics", "0005_digest", "0006_requests", "0007_quality", "0008_home")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
