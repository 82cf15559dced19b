"""Losses as small pure functions of network outputs."""
