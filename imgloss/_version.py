"""The single place the imgloss version lives."""

__version__ = "0.1.0"
