"""The web layer: HTML pages, the API and the ActivityPub endpoints, over ``instance`` and ``federation``."""
