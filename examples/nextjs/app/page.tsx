import { getServerSession } from "next-auth";

import { authOptions } from "@/lib/auth";
import { dossiersOf } from "@/lib/dossiers";
import { UpdateDossier } from "./update-dossier";

export const dynamic = "force-dynamic";

export default async function Home() {
  const session = await getServerSession(authOptions);
  if (!session) {
    return <p>Connectez-vous (alice@firm-a.fr / alice-demo, ou bob@firm-b.fr / bob-demo).</p>;
  }
  return (
    <>
      <h1>Dossiers</h1>
      <table>
        <thead>
          <tr>
            <th>Numéro</th>
            <th>Client</th>
            <th>Statut</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {dossiersOf(session.user.tenantId).map((dossier) => (
            <tr key={dossier.id} data-testid={`dossier-${dossier.id}`}>
              <td>{dossier.numero}</td>
              <td>
                {dossier.client} - {dossier.type}
              </td>
              <td>{dossier.status}</td>
              <td>
                <UpdateDossier id={dossier.id} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
