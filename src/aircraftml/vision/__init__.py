"""Seeing aircraft: decode a photo, find the boxes, name the types, draw the result."""
