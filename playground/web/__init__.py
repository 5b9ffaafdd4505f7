"""The web layer: HTTP views, the Socket.IO protocol, sessions and frame delivery.

``views`` serves pages and the JSON API; ``events`` answers the Socket.IO requests of
``docs/protocol.md``; ``session`` paces one simulation against the wall clock; ``registry``
holds the sessions of a process; ``serializer`` turns simulations into frames; ``fanout``
delivers frames to every client without letting a slow one hold anybody up.
"""
