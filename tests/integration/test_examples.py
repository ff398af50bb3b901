"""The dossier integration example runs against a real Tocsin and notifies the lawyer."""

from __future__ import annotations

import httpx
from examples.dossier_app.app import create_app

from tests.helpers import ADMIN_KEY, Client, ServerThread
from tocsin.sdk import AsyncTocsinClient


async def test_the_dossier_app_notifies_every_change(server: ServerThread) -> None:
    host = ServerThread(
        server.settings, app_factory=lambda: create_app(AsyncTocsinClient(server.url, ADMIN_KEY))
    )
    host.start()
    lawyer = Client(server.url, "camille", "cabinet-laurent")
    colleague = Client(server.url, "julien", "cabinet-laurent")
    await lawyer.connect()
    await colleague.connect()
    try:
        async with httpx.AsyncClient(base_url=host.url) as app:
            created = await app.post(
                "/dossiers",
                json={
                    "number": "D-2026-014",
                    "client": "Dupont",
                    "kind": "Divorce",
                    "lawyerId": "camille",
                    "tenantId": "cabinet-laurent",
                },
            )
            assert created.status_code == 201
            dossier = created.json()["id"]
            await app.patch(f"/dossiers/{dossier}", json={"kind": "Divorce contentieux"})
            await app.patch(f"/dossiers/{dossier}", json={"status": "AUDIENCE_FIXEE"})
            await app.post(f"/dossiers/{dossier}/documents", json={"name": "Assignation.pdf"})
        received = await lawyer.wait_notifications(4)
        assert [(n["action"], n.get("status")) for n in received] == [
            ("created", None),
            ("updated", None),
            ("status_changed", "AUDIENCE_FIXEE"),
            ("document_added", "Assignation.pdf"),
        ]
        assert received[1]["dossierTitle"] == "Dupont - Divorce contentieux"
        assert {n["dossierNumber"] for n in received} == {"D-2026-014"}
        assert colleague.notifications() == []
    finally:
        await lawyer.disconnect()
        await colleague.disconnect()
        host.close()
