"""pytest fixtures for fcemu (see README.md): `fcemu_server` for the session, `fcemu` per test."""

from .plugin import Fcemu, SnapshotMismatch

__all__ = ["Fcemu", "SnapshotMismatch"]
