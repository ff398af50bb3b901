/** The demo's dossiers, in memory (a real app has them in its database, e.g. with Prisma). */
export type DossierStatus = "ouvert" | "en_attente" | "audience" | "clos";

export interface Dossier {
  id: string;
  numero: string;
  client: string;
  type: string;
  status: DossierStatus;
  avocatId: string;
  tenantId: string;
}

export const STATUSES: readonly DossierStatus[] = ["ouvert", "en_attente", "audience", "clos"];

const dossiers: Dossier[] = [
  { id: "dos-a1", numero: "D-2026-014", client: "Dupont", type: "Divorce", status: "ouvert", avocatId: "alice", tenantId: "firm-a" },
  { id: "dos-a2", numero: "D-2026-021", client: "Nguyen", type: "OQTF", status: "en_attente", avocatId: "alice", tenantId: "firm-a" },
  { id: "dos-b1", numero: "D-2026-101", client: "Moreau", type: "Prud'hommes", status: "ouvert", avocatId: "bob", tenantId: "firm-b" },
];

/** The dossiers of one tenant. */
export function dossiersOf(tenantId: string): Dossier[] {
  return dossiers.filter((dossier) => dossier.tenantId === tenantId);
}

/** The dossier with this id in this tenant, or null (another tenant's dossier is not found). */
export function findDossier(tenantId: string, id: string): Dossier | null {
  return dossiers.find((dossier) => dossier.id === id && dossier.tenantId === tenantId) ?? null;
}
