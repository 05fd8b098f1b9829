"""An admin client for tests that change or inspect topics behind the services' backs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import KafkaSettings


@contextlib.asynccontextmanager
async def admin_client(settings: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()
