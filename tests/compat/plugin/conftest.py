"""The pytest plugin (clients/python) serving a small app: uploads under `in/` fire `echo`."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def fcemu_manifest(tmp_path_factory):
    echo = REPO / "fixtures" / "target" / "wasm32-wasip1" / "release" / "echo.wasm"
    if not echo.exists():
        pytest.exit(f"{echo} is missing: run scripts/build-fixtures", returncode=2)
    root = tmp_path_factory.mktemp("plugin-app")
    (root / "fcemu.toml").write_text(f"""
name = "plugin-app"

[functions.echo]
code = "{echo}"
  [[functions.echo.triggers]]
  type = "oss"
  bucket = "uploads"
  events = ["oss:ObjectCreated:*"]
  prefix = "in/"
""")
    return root / "fcemu.toml"
