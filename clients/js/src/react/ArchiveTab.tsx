/**
 * The Archive tab's content: two sections, « Reportées » (the snoozed items, until when and
 * « Réveiller maintenant ») above « Archivées » (« Désarchiver »), each with its heading and
 * its « Afficher les plus anciennes » (and how many it holds, once all are there). The snoozed section shows only when something is
 * snoozed; with nothing in either, the tab says the archive is empty.
 */
import type { ReactElement } from "react";

import type { Locale, Messages } from "../core/i18n.js";
import type { AnyNotification } from "../core/types.js";
import { ArchiveIcon } from "./icons.js";
import { ItemRow, type ItemHandlers, type RowKind } from "./ItemRow.js";
import type { UseTocsinResult } from "./useWebSocket.js";

export interface ArchiveTabProps {
  state: UseTocsinResult;
  t: Messages;
  locale: Locale;
  now: number;
  handlers: ItemHandlers;
  /** Prefix of the sections' heading ids (unique in the page). */
  idPrefix: string;
}

export function ArchiveTab({ state, t, locale, now, handlers, idPrefix }: ArchiveTabProps): ReactElement {
  const { snoozedItems: snoozed, archivedItems: archived } = state;
  const loading = state.loadingArchived || state.loadingSnoozed;
  if (snoozed.length === 0 && archived.length === 0) {
    return (
      <>
        <div className="tocsin-empty" data-testid="tocsin-empty">
          <ArchiveIcon />
          <strong>{loading ? t.loading : t.archivedEmpty}</strong>
        </div>
        {state.archivedHasOlder && <OlderButton t={t} loading={state.loadingArchived} onClick={() => state.loadArchived({ older: true })} />}
      </>
    );
  }
  const rows = (items: readonly AnyNotification[], kind: RowKind) =>
    items.map((item) => <ItemRow key={item.id} item={item} t={t} locale={locale} now={now} kind={kind} {...handlers} />);
  return (
    <>
      {snoozed.length > 0 && (
        <section className="tocsin-section" aria-labelledby={`${idPrefix}-snoozed`} data-testid="tocsin-snoozed">
          <h3 className="tocsin-listhead" id={`${idPrefix}-snoozed`}>
            {t.snoozedHeading}
            {!state.snoozedHasOlder && (
              <span className="tocsin-count" aria-hidden="true">
                {snoozed.length}
              </span>
            )}
          </h3>
          <ul className="tocsin-list" data-testid="tocsin-snoozed-list">
            {rows(snoozed, "snoozed")}
          </ul>
          {state.snoozedHasOlder && (
            <OlderButton t={t} loading={state.loadingSnoozed} onClick={() => state.loadSnoozed({ older: true })} />
          )}
        </section>
      )}
      <section className="tocsin-section" aria-labelledby={`${idPrefix}-archived`} data-testid="tocsin-archived">
        <h3 className="tocsin-listhead" id={`${idPrefix}-archived`}>
          {t.archivedHeading}
          {archived.length > 0 && !state.archivedHasOlder && (
            <span className="tocsin-count" aria-hidden="true">
              {archived.length}
            </span>
          )}
        </h3>
        {archived.length === 0 ? (
          <p className="tocsin-none" data-testid="tocsin-archived-empty">
            {state.loadingArchived ? t.loading : t.archivedEmpty}
          </p>
        ) : (
          <ul className="tocsin-list" data-testid="tocsin-list">
            {rows(archived, "archived")}
          </ul>
        )}
        {state.archivedHasOlder && <OlderButton t={t} loading={state.loadingArchived} onClick={() => state.loadArchived({ older: true })} />}
      </section>
    </>
  );
}

function OlderButton({ t, loading, onClick }: { t: Messages; loading: boolean; onClick: () => void }): ReactElement {
  return (
    <div className="tocsin-foot">
      <button type="button" className="tocsin-iconbtn" onClick={onClick} disabled={loading}>
        {loading ? t.loading : t.loadOlder}
      </button>
    </div>
  );
}
