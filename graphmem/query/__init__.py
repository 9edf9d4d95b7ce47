"""The one home for every kind of search and path query.

``traversal`` answers the graph questions over a snapshot of the derived
state (neighbours, shortest paths, k-hop, subgraph); ``retrieval`` answers
``near=`` search within hops of anchors and ranks ``recall``'s context, and
builds on ``traversal`` for the hops; ``recall`` composes the seeds, that
ranking and the entities' rows into a ``Recall``; ``search`` answers every
``search`` from one entry point (the plain vector search here, ``near=``
through retrieval's ranking) and holds what searches share (allowed ids,
anchors, the query vector); ``lookup`` answers from the derived state alone
(which names and relations exist, types, the type summary, the relations
touching some names); ``entity`` reads entities by key from the store
(``get_entity``'s rules, rows through the entity cache). A new
kind of search or path query goes here, not in the facade: ``Memory``
validates the arguments once and calls one function of this package.
"""
