"""The one home for every kind of search and path query.

``traversal`` answers the graph questions over a snapshot of the derived
state (neighbours, shortest paths, k-hop, subgraph); ``retrieval`` answers the
search questions (plain vector search, ``near=`` search within hops of
anchors, ``recall`` context) and builds on ``traversal`` for the hops. A new
kind of search or path query goes here, not in the facade: ``Memory``
validates the arguments once and calls one function of this package.
"""
