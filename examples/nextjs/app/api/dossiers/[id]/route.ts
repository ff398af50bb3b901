import { getServerSession } from "next-auth";
import { notifyDossierUpdated } from "@/lib/websocket";

import { authOptions } from "@/lib/auth";
import { findDossier, STATUSES, type DossierStatus } from "@/lib/dossiers";

/**
 * Update a dossier of the signed-in user's firm, then tell its lawyer through Tocsin.
 *
 * Body (JSON): `{}` for an update, `{"status": "audience"}` to change its status.
 * Every call is one notification: two updates of one dossier are two, each with Tocsin's own
 * `id`; the dossier's id travels as `sourceId`.
 */
export async function PATCH(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const session = await getServerSession(authOptions);
  if (!session) return Response.json({ error: "unauthorized" }, { status: 401 });
  // A JSON body cannot come from another site's form: no cross-site update with the cookie.
  if (!request.headers.get("content-type")?.startsWith("application/json")) {
    return Response.json({ error: "unsupported_media_type" }, { status: 415 });
  }
  const { id } = await params;
  const dossier = findDossier(session.user.tenantId, id);
  if (!dossier) return Response.json({ error: "not_found" }, { status: 404 });

  const body = (await request.json().catch(() => null)) as { status?: unknown } | null;
  const status = body?.status;
  if (status !== undefined && !STATUSES.includes(status as DossierStatus)) {
    return Response.json({ error: "invalid_status", allowed: STATUSES }, { status: 422 });
  }
  const changed = status !== undefined && status !== dossier.status;
  if (changed) dossier.status = status as DossierStatus;

  try {
    // The seed's call, unchanged; awaited here so that the response says whether it went out.
    const notification = await notifyDossierUpdated({
      id: dossier.id,
      dossierNumber: dossier.numero,
      dossierTitle: `${dossier.client} - ${dossier.type}`,
      action: changed ? "status_changed" : "updated",
      status: dossier.status,
      userId: dossier.avocatId,
      tenantId: dossier.tenantId,
      timestamp: new Date(),
    });
    return Response.json({ dossier, notification });
  } catch (error) {
    // The update stands; only the notification failed (the publisher already retried).
    console.error("tocsin: dossier notification failed", error);
    return Response.json({ dossier, notification: null }, { status: 202 });
  }
}
