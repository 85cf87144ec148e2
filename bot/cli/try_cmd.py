from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Commands of this module are added by their issue's work."""
