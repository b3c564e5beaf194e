"""The package version, in one place (read by pyproject.toml, the CLI and rewrite provenance)."""

__version__ = "0.1.0.dev0"
