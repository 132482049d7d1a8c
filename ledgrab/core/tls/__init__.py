"""HTTPS for the device: its own certificate, the user's, renewal, the plain-HTTP redirect.

Submodules are imported by name: `pinning` is standard library only (the first-boot unit uses it).
"""
