"""The domain of benevalibre-fed: models, services, settings and the admin command line.

This package imports neither ``federation`` nor ``web``.
"""
