"""The entity and body types: one definition per field, imported by storage, engine and API alike.

This package imports only msgspec and `ledgrab.utils`; every other layer may import it.
"""
