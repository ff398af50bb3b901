/** One client per page and server, shared by every component that uses the hook. */
import { TocsinClient, type TocsinClientOptions } from "./client.js";

interface Entry {
  client: TocsinClient;
  users: number;
  connected: number;
  idle: ReturnType<typeof setTimeout> | null;
}

const entries = new Map<string, Entry>();
const byClient = new WeakMap<TocsinClient, Entry>();

/** How long a client with no users stays open (React StrictMode re-mounts within it). */
const IDLE_MS = 250;

function keyOf(options: TocsinClientOptions): string {
  return `${options.url ?? ""}|${options.path ?? "/socket.io"}`;
}

/**
 * The page's client for this server: created with these options by the first caller, then
 * shared (later callers' options are ignored). It does not connect by itself: see
 * {@link retainClient}.
 */
export function getSharedClient(options: TocsinClientOptions = {}): TocsinClient {
  const key = keyOf(options);
  const found = entries.get(key);
  if (found) return found.client;
  const client = new TocsinClient({ ...options, autoConnect: false });
  const entry: Entry = { client, users: 0, connected: 0, idle: null };
  entries.set(key, entry);
  byClient.set(client, entry);
  return client;
}

/**
 * Use a shared client (connecting it when `connect`); returns the release function. The
 * connection closes, and the client is disposed, shortly after its last user releases it.
 */
export function retainClient(client: TocsinClient, connect = true): () => void {
  const entry = byClient.get(client);
  if (!entry) {
    if (connect) client.connect();
    return () => undefined;
  }
  if (entry.idle !== null) clearTimeout(entry.idle);
  entry.idle = null;
  entry.users += 1;
  if (connect) {
    entry.connected += 1;
    client.connect();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.users -= 1;
    if (connect) entry.connected -= 1;
    if (entry.users > 0) {
      if (entry.connected === 0) client.disconnect();
      return;
    }
    entry.idle = setTimeout(() => {
      if (entry.users > 0) return;
      client.dispose();
      for (const [key, other] of entries) if (other === entry) entries.delete(key);
    }, IDLE_MS);
  };
}
