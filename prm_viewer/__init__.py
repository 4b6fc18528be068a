"""prm_viewer: look inside process reward models' step scores."""

__version__ = "0.1.0"
