/** `createPublisher`: the seed's helpers over Tocsin's HTTP API. */

import { post, type Connection, type Fetch } from "./http.js";
import { logError, publication, type ErrorHandler, type Publication } from "./publication.js";
import type {
  Audienceless,
  BatchResult,
  DeadlineAlert,
  DossierUpdated,
  EmailReceived,
  EventName,
  Id,
  Notification,
  Payloads,
  PublishOptions,
  PublishResult,
  SystemNotification,
} from "./types.js";

export const NOTIFICATIONS_PATH = "/api/v1/notifications";
export const BATCH_PATH = "/api/v1/notifications/batch";

/** How to reach Tocsin. */
export interface PublisherOptions {
  /** The Tocsin server's base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** A tenant's API key (`tsk_…`, publishes into its tenant only) or the admin key. */
  apiKey: string;
  /** Time allowed to each attempt, answer included (default 10 s). */
  timeoutMs?: number;
  /** Further attempts after a network error, a timeout, a 429 or a 5xx (default 3). */
  retries?: number;
  /** The first wait between attempts, doubled each time, ± 30 % (default 200 ms). */
  backoffMs?: number;
  /** The `fetch` to use (default: the global one, read at each call). */
  fetch?: Fetch;
  /**
   * Called with a failure that no caller awaited (the seed's fire-and-forget calls), and what
   * was being published. Default: `console.error`. Awaiting callers get the rejection instead.
   */
  onError?: ErrorHandler;
}

/** What `createPublisher` returns. Every method returns a promise that never goes unhandled. */
export interface Publisher {
  /** Publish one notification (a payload plus its `event`); resolves once Tocsin stored it. */
  publish(notification: Notification, options?: PublishOptions): Publication<PublishResult>;
  /**
   * Publish up to 1,000 notifications in one request; one result per notification, in
   * order: `{id, cursor}`, or `{status, error, message, field}` for one that was refused.
   */
  publishBatch(notifications: readonly Notification[], options?: PublishOptions): Publication<BatchResult[]>;
  /** Send `event` to one user; their tenant is `options.tenantId`, else `data.tenantId`. */
  emitToUser<E extends EventName>(
    userId: Id,
    event: E,
    data: Audienceless<Payloads[E]>,
    options?: { tenantId?: Id },
  ): Publication<PublishResult>;
  /** Send `event` to every user of a tenant (a `userId` in `data` is dropped). */
  emitToTenant<E extends EventName>(tenantId: Id, event: E, data: Audienceless<Payloads[E]>): Publication<PublishResult>;
  /** Send a system notification to everyone (needs the admin key). */
  emitToAll(event: "system-notification", data: Audienceless<SystemNotification>): Publication<PublishResult>;
  /** `email-received` to `data.userId`. */
  notifyEmailReceived(data: EmailReceived): Publication<PublishResult>;
  /** `dossier-updated` to `data.userId`: each call is a notification, even for one dossier. */
  notifyDossierUpdated(data: DossierUpdated): Publication<PublishResult>;
  /** `deadline-alert` to `data.userId`. */
  notifyDeadlineAlert(data: DeadlineAlert): Publication<PublishResult>;
  /** `system-notification` to `userId`, else to every user of `tenantId`, else to everyone. */
  notifySystem(data: SystemNotification): Publication<PublishResult>;
}

/**
 * A publisher to the Tocsin server at `options.url`.
 *
 * Throws TypeError when `url` is not an absolute http(s) URL, `apiKey` is empty, or a
 * number option is negative.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const connection = connect(options);
  const onError = options.onError ?? logError;

  const publish = (notification: Notification, call: PublishOptions = {}) =>
    publication(
      async () => {
        const { body, headers } = await post(connection, NOTIFICATIONS_PATH, wire(notification), call.idempotencyKey);
        const { id, cursor } = body as { id: string; cursor: PublishResult["cursor"] };
        return { id, cursor, replayed: headers.get("Idempotent-Replayed") === "true" };
      },
      onError,
      notification,
    );

  const publishBatch = (notifications: readonly Notification[], call: PublishOptions = {}) =>
    publication(
      async () => {
        const body = { notifications: notifications.map(wire) };
        const answer = await post(connection, BATCH_PATH, body, call.idempotencyKey);
        return (answer.body as { results: BatchResult[] }).results;
      },
      onError,
      notifications,
    );

  // A call that cannot be routed fails like a refused publish: through the promise.
  const refuse = (message: string, subject: unknown) =>
    publication<PublishResult>(() => Promise.reject(new TypeError(message)), onError, subject);

  const send = (notification: Record<string, unknown>) => publish(notification as Notification);

  return {
    publish,
    publishBatch,
    emitToUser(userId, event, data, { tenantId } = {}) {
      const tenant = tenantId ?? data.tenantId;
      if (tenant === undefined || tenant === null) {
        return refuse("emitToUser needs the user's tenant: pass {tenantId} or data.tenantId", data);
      }
      return send({ ...data, event, userId, tenantId: tenant });
    },
    emitToTenant(tenantId, event, data) {
      const { userId: _user, ...rest } = data;
      return send({ ...rest, event, tenantId });
    },
    emitToAll(event, data) {
      const { userId: _user, tenantId: _tenant, ...rest } = data;
      return send({ ...rest, event });
    },
    notifyEmailReceived: (data) => send({ ...data, event: "email-received" }),
    notifyDossierUpdated: (data) => send({ ...data, event: "dossier-updated" }),
    notifyDeadlineAlert: (data) => send({ ...data, event: "deadline-alert" }),
    notifySystem: (data) => send({ ...data, event: "system-notification" }),
  };
}

function connect(options: PublisherOptions): Connection {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError(`url: the Tocsin server's base URL, e.g. http://127.0.0.1:8000 (got ${JSON.stringify(options.url)})`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(`url: http or https, not ${base.protocol}`);
  }
  if (!options.apiKey) throw new TypeError("apiKey: a tenant key (tsk_…) or the admin key");
  const number = (name: string, value: number | undefined, fallback: number) => {
    const chosen = value ?? fallback;
    if (!Number.isFinite(chosen) || chosen < 0) throw new TypeError(`${name}: must be 0 or more`);
    return chosen;
  };
  return {
    baseUrl: base.href.replace(/\/+$/, ""),
    apiKey: options.apiKey,
    timeoutMs: number("timeoutMs", options.timeoutMs, 10_000),
    retries: Math.floor(number("retries", options.retries, 3)),
    backoffMs: number("backoffMs", options.backoffMs, 200),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

/** The JSON object sent for `notification`: `Date`s as ISO 8601, like JavaScript's own JSON. */
export function wire(notification: object): Record<string, unknown> {
  if (notification === null || typeof notification !== "object" || Array.isArray(notification)) {
    throw new TypeError(`a notification is an object, not ${Array.isArray(notification) ? "an array" : typeof notification}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(notification)) {
    if (value === undefined) continue;
    out[key] = value instanceof Date ? value.toISOString() : value;
  }
  return out;
}
