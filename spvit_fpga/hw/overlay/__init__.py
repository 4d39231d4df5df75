"""The layer-sequential overlay engine (``docs/overlay.md``): its size per board (:mod:`.arch`), the
weight image (:mod:`.layout`), the layer program (:mod:`.program`), a functional model
(:mod:`.execute`), the cycle model (:mod:`.cycles`) and the latency table training and evaluation use
(:mod:`.latency`)."""
