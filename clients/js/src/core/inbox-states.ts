/**
 * Changing inbox states: read, seen, archived, snoozed, acted, cleared.
 *
 * Each change is made in the store at once, then sent (the Socket.IO event while connected,
 * else the same request over HTTP); the ack's counts are then the truth. A refused change
 * puts the items back as they were, says why in `actionError` and asks the server's counts
 * again.
 */
import type { ClientState } from "./state.js";
import type { Ack, Transport } from "./transport.js";
import type { AnyNotification, Cursor } from "./types.js";

/** The answer to a state change: the counts after it, and what the change reports. */
export interface ChangeAck {
  ok: true;
  unreadCount?: number;
  unseenCount?: number;
  [key: string]: unknown;
}

/** The answer to `act`: the action recorded (the first one, when it was already taken). */
export interface ActAck extends ChangeAck {
  id: string;
  action: string;
  actedAt: string;
  alreadyActed: boolean;
}

/** Options of `archiveAll`: up to a cursor (default: all received), the read ones only. */
export interface ArchiveAllOptions {
  upTo?: Cursor;
  onlyRead?: boolean;
}

export class InboxStates {
  constructor(
    private readonly state: ClientState,
    private readonly transport: Transport,
    /** Ask the server's counts again (after a refusal). */
    private readonly refreshCounts: () => Promise<unknown>,
  ) {}

  private get store() {
    return this.state.store;
  }

  /** Mark one notification (or several) read, here at once and then on the server. */
  async markAsRead(ids: string | readonly string[]): Promise<void> {
    const list = typeof ids === "string" ? [ids] : [...ids];
    const changed = this.store.markRead(list);
    if (changed.length === 0) return;
    this.state.changed();
    const ack = await this.transport.send("mark-read", { ids: changed }, "POST", "/api/v1/inbox/read");
    this.takeCounts(ack);
  }

  /** Mark notifications seen (shown in an open list). Ids already seen are not sent again. */
  async markSeen(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const changed = this.store.markSeen(typeof ids === "string" ? [ids] : [...ids]);
    if (changed.length === 0) return null;
    this.state.changed();
    const ack = await this.transport.send("mark-seen", { ids: changed }, "POST", "/api/v1/inbox/seen");
    this.takeCounts(ack);
    return ack as ChangeAck | null;
  }

  /** Mark everything received so far read (items arriving meanwhile stay unread). */
  async markAllAsRead(): Promise<void> {
    const upTo = this.store.since;
    this.store.markAllRead();
    this.state.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.transport.send("mark-all-read", body, "POST", "/api/v1/inbox/read-all");
    this.takeCounts(ack);
  }

  /** Clear the inbox (everything received so far), here and on the server. */
  async clear(): Promise<void> {
    const upTo = this.store.since;
    this.store.clear();
    this.state.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.transport.send("clear", body, "POST", "/api/v1/inbox/clear");
    this.takeCounts(ack);
  }

  /** Archive notifications: out of the inbox, into the Archive tab. */
  archive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.archive(list), "archive", { ids: list }, "/api/v1/inbox/archive");
  }

  /** Take notifications out of the archive, back into the inbox. */
  unarchive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.unarchive(list), "unarchive", { ids: list }, "/api/v1/inbox/unarchive");
  }

  /** Archive everything received so far (`upTo`), or only what is read (`onlyRead`). */
  archiveAll({ upTo, onlyRead = false }: ArchiveAllOptions = {}): Promise<ChangeAck | null> {
    const until = upTo ?? this.store.since;
    const body: Record<string, unknown> = {};
    if (until !== null) body.upTo = until;
    if (onlyRead) body.onlyRead = true;
    return this.change(
      () => this.store.archiveAll(until ?? undefined, onlyRead),
      "archive-all",
      body,
      "/api/v1/inbox/archive-all",
      true,
    );
  }

  /**
   * Snooze notifications until a time (at least a minute ahead, the server's setting): they
   * leave the inbox and the counts, then come back unread on top (`notification-due`).
   * Rejects with a RangeError when `until` is not a time.
   */
  snooze(ids: string | readonly string[], until: Date | string): Promise<ChangeAck | null> {
    const list = idList(ids);
    const when = new Date(until);
    if (Number.isNaN(when.getTime())) return Promise.reject(new RangeError(`snooze: not a time: ${String(until)}`));
    const iso = when.toISOString();
    return this.change(() => this.store.snooze(list, iso), "snooze", { ids: list, until: iso }, "/api/v1/inbox/snooze");
  }

  /** End the snooze of notifications now: back in the inbox. */
  unsnooze(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.unsnooze(list), "unsnooze", { ids: list }, "/api/v1/inbox/unsnooze");
  }

  /**
   * Take one of a notification's actions (recorded once: if one was already taken, the
   * answer names it and the item shows it). The item is read afterwards.
   */
  async act(id: string, action: string): Promise<ActAck | null> {
    const ack = (await this.change(
      () => this.store.act(id, action),
      "act",
      { id, action },
      "/api/v1/inbox/act",
      true,
    )) as ActAck | null;
    if (ack && typeof ack.action === "string") {
      this.store.act(id, ack.action, typeof ack.actedAt === "string" ? ack.actedAt : undefined);
      this.state.changed();
    }
    return ack;
  }

  /**
   * A state change: `apply` here (returning the items as they were), then the event; its ack's
   * counts are taken, a refusal puts the items back and says why in `actionError`.
   */
  private async change(
    apply: () => AnyNotification[],
    event: string,
    body: Record<string, unknown>,
    path: string,
    always = false,
  ): Promise<ChangeAck | null> {
    const previous = apply();
    if (previous.length === 0 && !always) return null;
    this.state.status.actionError = null;
    this.state.changed();
    const ack = await this.transport.send(event, body, "POST", path);
    if (!ack) {
      this.store.restore(previous);
      this.state.status.actionError = this.transport.lastFailure;
      void this.refreshCounts();
      this.state.changed();
      return null;
    }
    this.takeCounts(ack);
    return ack as ChangeAck;
  }

  private takeCounts(ack: Ack | null): void {
    if (ack) this.store.setCounts(ack.unreadCount, ack.unseenCount);
    this.state.changed();
  }
}

function idList(ids: string | readonly string[]): string[] {
  return typeof ids === "string" ? [ids] : [...new Set(ids)];
}
