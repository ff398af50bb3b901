import type { PrismaClient } from "./generated/prisma/client";

export const STATUSES = ["OUVERT", "AUDIENCE_FIXEE", "CLOS"] as const;
export type DossierStatus = (typeof STATUSES)[number];

/**
 * Change a dossier's status and notify its lawyer, in ONE transaction.
 *
 * The notification is a row of Tocsin's outbox written by `tocsin.tocsin_publish` inside the
 * app's own transaction: it exists if and only if the update commits. Tocsin, woken by the
 * commit's NOTIFY, publishes it once (docs/outbox.md). No HTTP call, nothing to retry, nothing
 * sent for an update that rolled back.
 *
 * `key`, when given (a request id, say), names the notification: a retried request that
 * writes the same key again publishes nothing new.
 */
export async function updateDossierStatus(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
  status: DossierStatus,
  options: { key?: string; failAfterNotify?: boolean } = {},
) {
  return prisma.$transaction(async (tx) => {
    const dossier = await tx.dossier.update({ where: { id, tenantId }, data: { status } });
    // The object POST /api/v1/notifications takes: the seed's fields plus "event".
    const notification = {
      event: "dossier-updated",
      id: dossier.id,
      dossierNumber: dossier.number,
      dossierTitle: `${dossier.client} - ${dossier.kind}`,
      action: "status_changed",
      status: dossier.status,
      userId: dossier.lawyerId,
      tenantId: dossier.tenantId,
    };
    // Parameters, never string concatenation: Prisma sends each ${…} as a bind parameter.
    await tx.$executeRaw`SELECT tocsin.tocsin_publish(${dossier.tenantId}::text, ${JSON.stringify(notification)}::jsonb, ${options.key ?? null}::text)`;
    if (options.failAfterNotify) {
      // Anything failing later in the transaction takes the notification with it.
      throw new Error("the update failed after its notification was written: both roll back");
    }
    return dossier;
  });
}
