"""Tracking stores: the Store contract (base.py) and its implementations, chosen by URI (registry.py)."""
