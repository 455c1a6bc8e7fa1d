"""Turning what other machines send into stored, Glances-shaped statistics."""
