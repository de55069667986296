"""Generated secrets for the embedded setup, kept in the untracked data folder."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet


def read_or_create(path: Path, kind: str) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    value = Fernet.generate_key().decode() if kind == "fernet" else secrets.token_urlsafe(50)
    # Write a private temp file, then hard-link it into place: the link is
    # atomic, so two processes starting at once agree on one complete secret.
    fd, temp = tempfile.mkstemp(dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)
    return path.read_text().strip()
