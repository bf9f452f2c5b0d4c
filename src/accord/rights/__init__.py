"""Subject access (F10): everything held and shared about one person, with proofs.

``assemble`` writes it as a typed document from the person file (`accord.personfile`),
``explain`` puts codes and match scores into plain words, ``render`` writes the JSON, the
HTML letter and its PDF, and ``exemptions`` withholds single items explicitly, justified
and logged.
"""
