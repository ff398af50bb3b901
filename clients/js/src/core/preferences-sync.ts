/**
 * The user's preferences on the client: loaded on every connect, changed here at once then
 * on the server (whose answer, the effective document, is kept), taken as pushed by
 * `preferences-changed`.
 */
import type { Logger } from "./log.js";
import { mergePreferences, normalisePreferences } from "./preferences.js";
import type { ClientState } from "./state.js";
import type { Transport } from "./transport.js";
import type { Preferences, PreferencesChanged, PreferencesUpdate } from "./types.js";

export class PreferencesSync {
  constructor(
    private readonly state: ClientState,
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {}

  /** Fetch the user's effective preferences; resolves to them (the held ones if unreachable). */
  async load(): Promise<Preferences> {
    try {
      const answer = await this.transport.query<{ preferences?: unknown }>("preferences", {}, "/api/v1/preferences");
      this.take(answer.preferences ?? answer);
    } catch (error) {
      this.log("Loading preferences failed:", error);
    }
    return this.state.preferences;
  }

  /**
   * Change some preferences (the rest stay): here at once, then on the server. Resolves to
   * the server's document, or to null when refused (undone, `actionError` says why).
   */
  async save(update: PreferencesUpdate): Promise<Preferences | null> {
    const before = this.state.preferences;
    this.state.preferences = mergePreferences(before, update);
    this.state.changed();
    const ack = await this.transport.send("set-preferences", { preferences: update }, "PUT", "/api/v1/preferences", update);
    if (!ack) {
      this.state.preferences = before;
      this.state.status.actionError = this.transport.lastFailure;
      this.state.changed();
      return null;
    }
    this.take((ack as { preferences?: unknown }).preferences ?? ack);
    return this.state.preferences;
  }

  /** `preferences-changed`: the user's document (taken), or the tenant's defaults changed (refetch). */
  pushed(data: PreferencesChanged): void {
    this.log("Preferences changed:", data);
    if (data?.preferences) this.take(data.preferences);
    else void this.load();
  }

  private take(document: unknown): void {
    if (!document || typeof document !== "object") return;
    this.state.preferences = normalisePreferences(document);
    this.state.status.preferencesLoaded = true;
    this.state.changed();
  }
}
