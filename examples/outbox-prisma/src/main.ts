/**
 * `npm run update -- <dossier id> <status> [--fail]`: update a dossier of the firm
 * `cabinet-laurent` (created on first use) and notify its lawyer `camille` through the outbox.
 * With `--fail`, the transaction throws after writing the notification: nothing is delivered.
 */
import { prisma } from "./db";
import { STATUSES, updateDossierStatus, type DossierStatus } from "./updateDossier";

const [id = "D-2026-014", status = "AUDIENCE_FIXEE", ...flags] = process.argv.slice(2);
if (!STATUSES.includes(status as DossierStatus)) {
  console.error(`status: one of ${STATUSES.join(", ")}`);
  process.exit(2);
}

await prisma.dossier.upsert({
  where: { id },
  update: {},
  create: {
    id,
    tenantId: "cabinet-laurent",
    number: id,
    client: "Dupont",
    kind: "Divorce",
    status: "OUVERT",
    lawyerId: "camille",
  },
});
try {
  const dossier = await updateDossierStatus(prisma, "cabinet-laurent", id, status as DossierStatus, {
    failAfterNotify: flags.includes("--fail"),
  });
  console.log(`committed: ${dossier.id} is ${dossier.status}; Tocsin delivers the notification`);
} catch (error) {
  console.log(`rolled back: ${(error as Error).message}; nothing is delivered`);
} finally {
  await prisma.$disconnect();
}
