"""The disclosure ledger: an append-only, signed Merkle log of every disclosure, recall and
governance change, so that anyone can check what was shared and that nothing was rewritten.

``log`` (append, sign, prove and verify in the database), ``tree`` (the stored Merkle
tree read back: size, roots, proofs), ``unit`` (the unit of work that signs a head over
the leaves a transaction appended), ``content`` (a leaf's canonical bytes), ``merkle``
(RFC 6962 hashing and proofs, no I/O), ``signing`` and ``keys``
(Ed25519 heads and which key signs them), ``bundle`` (self-contained inclusion proofs),
``publish`` (heads published outside the database) and ``witness`` (co-signers of them).
"""

# The environment variable naming where heads are published (``publish``): here, where
# importing it loads nothing, so that the command line's help can name it.
PUBLISH_HEADS_ENV = "ACCORD_PUBLISH_HEADS"
