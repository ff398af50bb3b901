/** One call to Tocsin's HTTP API, with its retries: request, timeout, backoff, decoding. */

import { TocsinApiError, TocsinNetworkError } from "./errors.js";
import { isRetryableStatus, parseRetryAfter, retryDelay, sleep } from "./retry.js";

export const VERSION = "0.1.0";

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** How to reach Tocsin, checked once by `createPublisher`. */
export interface Connection {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  fetch: Fetch;
}

/** A decoded 2xx answer. */
export interface Answer {
  body: unknown;
  headers: Headers;
}

/**
 * POST `body` (JSON) to `path`, retrying network errors, timeouts, 429 and 5xx with the same
 * `Idempotency-Key`, so that a retry never publishes twice.
 *
 * Throws TocsinApiError (refused, or still failing after the retries) or TocsinNetworkError.
 */
export async function post(
  connection: Connection,
  path: string,
  body: unknown,
  idempotencyKey?: string,
): Promise<Answer> {
  const url = connection.baseUrl + path;
  const init = {
    method: "POST",
    headers: {
      Authorization: `Bearer ${connection.apiKey}`,
      "Content-Type": "application/json",
      Accept: "application/json",
      "Idempotency-Key": idempotencyKey ?? (await newKey()),
      "User-Agent": `tocsin-node/${VERSION}`,
    },
    body: JSON.stringify(body),
  };
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= connection.retries;
    let response: Response;
    let payload: string;
    // One deadline for the answer and its body. Not AbortSignal.timeout: its timer does not
    // keep Node running, and a process must not exit while an attempt is still in the air.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(timeoutError(connection.timeoutMs)), connection.timeoutMs);
    try {
      response = await connection.fetch(url, { ...init, signal: deadline.signal });
      payload = await response.text();
    } catch (error) {
      clearTimeout(timer);
      if (last) throw new TocsinNetworkError(url, attempt + 1, { cause: error });
      await sleep(retryDelay(attempt, connection.backoffMs));
      continue;
    }
    clearTimeout(timer);
    if (response.ok) return { body: payload ? JSON.parse(payload) : null, headers: response.headers };
    if (last || !isRetryableStatus(response.status)) throw apiError(response, payload);
    await sleep(retryDelay(attempt, connection.backoffMs, parseRetryAfter(response.headers.get("Retry-After"))));
  }
}

/** The error Tocsin answered, from its JSON body `{error, message, field}`. */
export function apiError(response: Response, payload: string): TocsinApiError {
  let body: unknown = null;
  try {
    body = JSON.parse(payload);
  } catch {
    // Not Tocsin's answer: a proxy's error page, for instance.
  }
  const status = response.status;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    const text = payload.trim().slice(0, 200) || response.statusText || `HTTP ${status}`;
    return new TocsinApiError(status, `http_${status}`, text);
  }
  const fields = body as Record<string, unknown>;
  const code = typeof fields.error === "string" && fields.error ? fields.error : `http_${status}`;
  const message = String(fields.message ?? fields.reason ?? response.statusText ?? code);
  const field = typeof fields.field === "string" ? fields.field : null;
  return new TocsinApiError(status, code, message, field, body);
}

function timeoutError(ms: number): Error {
  const error = new Error(`no answer within ${ms} ms`);
  error.name = "TimeoutError";
  return error;
}

async function newKey(): Promise<string> {
  // The global Web Crypto (Node >= 19, edge runtimes), else Node 18's module.
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const { randomUUID } = await import("node:crypto");
  return randomUUID();
}
