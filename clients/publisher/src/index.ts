/**
 * `@tocsin/publisher`: publish Tocsin notifications from Node with the seed's helper names.
 *
 * ```ts
 * import { notifyEmailReceived } from "@tocsin/publisher"; // TOCSIN_URL, TOCSIN_API_KEY
 * notifyEmailReceived({ id: email.id, subject, from, userId, tenantId, timestamp: new Date() });
 * ```
 */
export { createPublisher, type Publisher, type PublisherOptions } from "./publisher.js";
export {
  configure,
  defaultPublisher,
  emitToAll,
  emitToTenant,
  emitToUser,
  notifyDeadlineAlert,
  notifyDossierUpdated,
  notifyEmailReceived,
  notifySystem,
} from "./defaults.js";
export { TocsinApiError, TocsinNetworkError } from "./errors.js";
export { Publication, type ErrorHandler } from "./publication.js";
export type { Fetch } from "./http.js";
export * from "./types.js";
