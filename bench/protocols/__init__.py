"""Protocols: fixed test tuples per protocol, synthesis through the Method contract, scoring."""
