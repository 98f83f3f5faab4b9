"""Federation over ActivityPub: keys, HTTP signatures, Data Integrity proofs and tolerant AS2 reading.

This package may use ``instance`` but never ``web``. The modules here are pure functions over bytes and JSON;
the inbox, fetching and delivery are built on top of them.
"""
