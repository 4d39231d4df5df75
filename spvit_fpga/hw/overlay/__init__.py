"""The layer-sequential overlay engine (``docs/overlay.md``): its size per board (:mod:`.arch`), the
weight image (:mod:`.layout`), the layer program (:mod:`.program`), a functional model
(:mod:`.execute`) and the cycle model (:mod:`.cycles`)."""
