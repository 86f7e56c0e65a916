"""Strawberry types, inputs and connections."""
