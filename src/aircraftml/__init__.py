"""AircraftML: find every aircraft in a photo, name its type, and reply on X."""

__version__ = "0.1.0"
