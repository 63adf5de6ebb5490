#!/usr/bin/env python
"""Django's command-line utility for Atrium. Configuration errors are printed as one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# platform/ holds the `atrium` package but is not a package itself (it would shadow the stdlib module).
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(1, str(ROOT))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.local")
    from atrium.cli_errors import run_reporting_config_errors

    run_reporting_config_errors(sys.argv)


if __name__ == "__main__":
    main()
