"""The subcommands of `python -m models.uplift`, one module each (see `models/uplift/__main__.py`)."""
