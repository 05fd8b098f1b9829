"""saga_monitor: a read-only, stream-processing view of every saga (faust).

Not a coordinator: it only listens. It folds the saga topics into a table keyed by
order id and shows, per order, how far its saga got, which compensations ran, and
which sagas have stalled.
"""
