"""The relay's safety net: a committed outbox row that was never handed over in memory is
still published, however many rows were handed over after it."""

import pytest

from shared.events import Event, StockAdded, encode
from shared.outbox import Outbox

pytestmark = pytest.mark.integration


def _stock_added(sku: str) -> bytes:
    return encode(Event.new(StockAdded(sku=sku, quantity=1), producer="test"))


async def test_a_row_committed_but_never_handed_over_is_published_behind_later_rows(mesh):
    mesh.configure("inventory_service", relay_poll_interval=0.3)
    await mesh.start("inventory_service")
    runtime = mesh.runtimes["inventory_service"]

    def commit_two_rows(db):
        # As when the caller of a group commit is cancelled after its COMMIT: the first
        # row's hand-over never happens, and later rows (higher seqs) are handed over.
        with db.transaction():
            outbox = Outbox(db)
            return [outbox.add_raw("StockAdded", sku.encode(), _stock_added(sku), [])
                    for sku in ("STRANDED-1", "LATER-1")]

    _stranded, later = await runtime.writer.run(commit_two_rows)
    runtime.relay.hand_over([later])
    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 2, timeout=30)

    def unsent() -> int:
        return mesh.db("inventory_service").execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    await mesh.wait_for(lambda: unsent() == 0, timeout=10)  # and both are marked sent
