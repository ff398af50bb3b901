"use client";

import { useState } from "react";

/** A button that updates a dossier through the app's route handler (which notifies Tocsin). */
export function UpdateDossier({ id }: { id: string }) {
  const [sent, setSent] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);

  async function update() {
    setError(null);
    const response = await fetch(`/api/dossiers/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const body = (await response.json()) as { notification: { id: string } | null };
    if (!response.ok || !body.notification) setError(`HTTP ${response.status}`);
    else setSent((ids) => [...ids, body.notification!.id]);
  }

  return (
    <span>
      <button type="button" onClick={update} data-testid={`update-${id}`}>
        Mettre à jour
      </button>{" "}
      <output data-testid={`notified-${id}`} data-ids={sent.join(" ")}>
        {error ?? (sent.length ? `notifications : ${sent.length}` : "")}
      </output>
    </span>
  );
}
