/**
 * The seed's helpers as module functions, over a default publisher: the one given to
 * `configure`, else one from `TOCSIN_URL` and `TOCSIN_API_KEY`. With them the seed's
 * `lib/websocket.ts` becomes `export * from "@tocsin/publisher"`.
 */

import { logError, publication, type Publication } from "./publication.js";
import { createPublisher, type Publisher, type PublisherOptions } from "./publisher.js";
import type { PublishResult } from "./types.js";

let current: Publisher | undefined;

/** Set (and return) the publisher that the module-level helpers use. Throws as `createPublisher`. */
export function configure(options: PublisherOptions): Publisher {
  current = createPublisher(options);
  return current;
}

/**
 * The publisher set by `configure`, else one made from `TOCSIN_URL` and `TOCSIN_API_KEY`
 * (read at the first call).
 *
 * Throws Error when neither was done, TypeError when the variables are malformed.
 */
export function defaultPublisher(): Publisher {
  if (current === undefined) {
    const env = globalThis.process?.env ?? {};
    const url = env.TOCSIN_URL;
    const apiKey = env.TOCSIN_API_KEY;
    if (!url || !apiKey) {
      throw new Error(
        "set TOCSIN_URL and TOCSIN_API_KEY (or call configure({url, apiKey}) first) to publish to Tocsin",
      );
    }
    current = createPublisher({ url, apiKey });
  }
  return current;
}

// A helper called before Tocsin is configured fails like a publish: through its promise,
// never by throwing into the (fire-and-forget) caller.
function viaDefault(
  call: (publisher: Publisher) => Publication<PublishResult>,
  subject: unknown,
): Publication<PublishResult> {
  let publisher: Publisher;
  try {
    publisher = defaultPublisher();
  } catch (error) {
    return publication<PublishResult>(() => Promise.reject(error), logError, subject);
  }
  return call(publisher);
}

/** `emitToUser` of {@link defaultPublisher}. */
export const emitToUser: Publisher["emitToUser"] = (userId, event, data, options) =>
  viaDefault((p) => p.emitToUser(userId, event, data, options), data);

/** `emitToTenant` of {@link defaultPublisher}. */
export const emitToTenant: Publisher["emitToTenant"] = (tenantId, event, data) =>
  viaDefault((p) => p.emitToTenant(tenantId, event, data), data);

/** `emitToAll` of {@link defaultPublisher}: a system notification to everyone (admin key). */
export const emitToAll: Publisher["emitToAll"] = (event, data) =>
  viaDefault((p) => p.emitToAll(event, data), data);

/** `notifyEmailReceived` of {@link defaultPublisher}. */
export const notifyEmailReceived: Publisher["notifyEmailReceived"] = (data) =>
  viaDefault((p) => p.notifyEmailReceived(data), data);

/** `notifyDossierUpdated` of {@link defaultPublisher}. */
export const notifyDossierUpdated: Publisher["notifyDossierUpdated"] = (data) =>
  viaDefault((p) => p.notifyDossierUpdated(data), data);

/** `notifyDeadlineAlert` of {@link defaultPublisher}. */
export const notifyDeadlineAlert: Publisher["notifyDeadlineAlert"] = (data) =>
  viaDefault((p) => p.notifyDeadlineAlert(data), data);

/** `notifySystem` of {@link defaultPublisher}. */
export const notifySystem: Publisher["notifySystem"] = (data) =>
  viaDefault((p) => p.notifySystem(data), data);
