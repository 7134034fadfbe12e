"""The README's table of settings is the one generated from config.py: it cannot drift."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from aircraftml.config import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_table_of_settings_is_generated_from_config() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


def test_the_readme_names_every_setting_and_endpoint() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for item in dataclasses.fields(Settings):
        assert f"`{env_name(item.name)}`" in readme
    for endpoint in ("/webhook", "/healthz", "/readyz"):
        assert endpoint in readme
