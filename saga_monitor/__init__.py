"""saga_monitor: a read-only, stream-processing view of every saga (faust), with a web UI.

Not a coordinator: it only listens. It folds the saga topics and their dead-letter topics into
a table keyed by order id and shows, per order, a timeline of its events across the services,
which compensations ran, what it waits for and from whom, and which sagas are stuck and why.
"""
