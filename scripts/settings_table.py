"""Write the README's table of settings from ``aircraftml.config`` (run after adding one).

    python scripts/settings_table.py          # rewrites the table in README.md
    python scripts/settings_table.py --check  # exit 1 when README.md's table is out of date

The table sits between the two marker lines below; tests/test_readme.py runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aircraftml.config import settings_table

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- settings: generated from src/aircraftml/config.py by scripts/settings_table.py -->"
END = "<!-- /settings -->"


def with_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by the generated table."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    readme = README.read_text(encoding="utf-8")
    updated = with_table(readme)
    if "--check" in argv:
        if updated != readme:
            print("README.md's table of settings is out of date: run scripts/settings_table.py")
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
