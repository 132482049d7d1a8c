"""Helpers shared by the tests: a live server under uvicorn, readiness polling."""
