"""Documents generated from the code, and checked against it in CI (`sagactl docs`).

Generation lives here, above ``shared``, because it needs the registry of participants
(``participants``), which ``shared`` must never import.
"""
