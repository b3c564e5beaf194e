"""`python -m hf_gradiend.cli ...` runs the `hf-gradiend` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
