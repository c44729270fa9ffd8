"""Saving and loading (`fastkeras.saving`)."""
