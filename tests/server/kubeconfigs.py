"""Kubeconfigs for other identities: the server's admin kubeconfig with another token."""

from __future__ import annotations

from pathlib import Path

import yaml


def kubeconfig_with_token(source: Path, token: str, dest: Path) -> Path:
    """Copy ``source`` to ``dest`` with every user's token replaced; same cluster and CA."""
    config = yaml.safe_load(source.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    dest.write_text(yaml.safe_dump(config))
    return dest
