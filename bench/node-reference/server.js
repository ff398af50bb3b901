// Reference Node socket.io 4.8 server doing Tocsin's job, for `make bench`.
//
// Same contracts as Tocsin where the benchmark looks: a socket authenticates with a HS256 JWT
// in `auth.token` (claims id|sub, tenantId; 15 s clock tolerance), joins `tenant:<id>` and
// `user:<id>` from the verified claims, gets `clients-count` on connect and (debounced) when
// its tenant's count changes; `POST /api/v1/notifications` (and `/batch`) with the admin key
// emits the same payload ({id, ...fields, timestamp, cursor, read}) to the user, the tenant
// or everyone. Persistence is OFF by default: nothing is written anywhere (Tocsin always
// commits to SQLite before it emits). With TOCSIN_NODE_STORE=<file>, every publish (or batch)
// is first committed to that SQLite file with better-sqlite3 (WAL, synchronous=FULL: on disk
// before the emit and the 202, as Tocsin), the way a Node server would naively add a store:
// synchronously, on the event loop. `GET /metrics` exposes `tocsin_connections` like Tocsin.
//
// Usage: node server.js --fd N | --port P   (env TOCSIN_JWT_SECRET, TOCSIN_ADMIN_KEY,
//        optional TOCSIN_NODE_STORE)
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const jwt = require("jsonwebtoken");
const { Server } = require("socket.io");

const SECRET = process.env.TOCSIN_JWT_SECRET;
// A KeyObject, made once: given a string, jsonwebtoken 9 first tries createPublicKey() on it
// at every verify, which cost ~40 % of the server's CPU while sockets connect.
const SECRET_KEY = SECRET ? crypto.createSecretKey(Buffer.from(SECRET, "utf8")) : null;
const ADMIN_KEY = process.env.TOCSIN_ADMIN_KEY;
const DEBOUNCE_MS = Number(process.env.TOCSIN_CLIENTS_COUNT_DEBOUNCE || "0.25") * 1000;
const MAX_BODY = 1048576;
const EVENTS = new Set([
  "email-received",
  "dossier-updated",
  "deadline-alert",
  "system-notification",
]);
if (!SECRET || !ADMIN_KEY) {
  console.error("set TOCSIN_JWT_SECRET and TOCSIN_ADMIN_KEY");
  process.exit(2);
}

let connections = 0;
let cursor = 0;

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error("too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// The optional store: a function committing a list of prepared notifications, or null.
function openStore(file) {
  if (!file) return null;
  const Database = require("better-sqlite3"); // an optional dependency: only when asked
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS notifications (cursor INTEGER PRIMARY KEY, id TEXT NOT NULL, " +
      "event TEXT NOT NULL, tenant_id TEXT, user_id TEXT, payload TEXT NOT NULL)",
  );
  const insert = db.prepare(
    "INSERT INTO notifications (cursor, id, event, tenant_id, user_id, payload) " +
      "VALUES (?, ?, ?, ?, ?, ?)",
  );
  return db.transaction((notes) => {
    for (const { event, payload } of notes) {
      insert.run(
        payload.cursor,
        payload.id,
        event,
        payload.tenantId ?? null,
        payload.userId ?? null,
        JSON.stringify(payload),
      );
    }
  });
}

const storeAll = openStore(process.env.TOCSIN_NODE_STORE);

// One notification ready to store and emit: the same routing and wire payload as Tocsin.
function prepare(body) {
  if (!body || typeof body !== "object" || !EVENTS.has(body.event)) {
    return { error: "invalid event" };
  }
  const { event, ...fields } = body;
  if (fields.userId !== undefined && fields.tenantId === undefined) {
    return { error: "tenantId required" };
  }
  const id = fields.id === undefined ? crypto.randomUUID() : String(fields.id);
  cursor += 1;
  const payload = { ...fields, id, timestamp: new Date().toISOString(), cursor, read: false };
  return { event, payload };
}

function emit(io, { event, payload }) {
  if (payload.userId !== undefined) {
    io.to(`user:${payload.userId}`).emit(event, payload);
  } else if (payload.tenantId !== undefined) {
    io.to(`tenant:${payload.tenantId}`).emit(event, payload);
  } else {
    io.emit(event, payload);
  }
}

// Publish notifications: store them (if a store is open) in one transaction, then emit.
function publish(io, bodies) {
  const prepared = bodies.map(prepare);
  const valid = prepared.filter((p) => !p.error);
  if (storeAll && valid.length) storeAll(valid);
  for (const note of valid) emit(io, note);
  return prepared.map((p) => (p.error ? p : { id: p.payload.id, cursor: p.payload.cursor }));
}

async function handle(io, req, res) {
  const url = req.url.split("?")[0];
  if (req.method === "GET" && (url === "/healthz" || url === "/readyz")) {
    return json(res, 200, { status: "ok" });
  }
  if (req.method === "GET" && url === "/metrics") {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    return res.end(`# TYPE tocsin_connections gauge\ntocsin_connections ${connections}\n`);
  }
  if (req.method === "POST" && url.startsWith("/api/v1/notifications")) {
    if (req.headers.authorization !== `Bearer ${ADMIN_KEY}`) {
      return json(res, 401, { error: "unauthorized" });
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return json(res, 400, { error: "invalid json" });
    }
    if (url === "/api/v1/notifications/batch") {
      const items = Array.isArray(body.notifications) ? body.notifications : [];
      return json(res, 202, { results: publish(io, items.slice(0, 1000)) });
    }
    const [result] = publish(io, [body]);
    return json(res, result.error ? 422 : 202, result);
  }
  return json(res, 404, { error: "not found" });
}

function main() {
  const args = process.argv.slice(2);
  const fdAt = args.indexOf("--fd");
  const portAt = args.indexOf("--port");
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    path: "/socket.io",
    transports: ["polling", "websocket"],
    perMessageDeflate: false,
    serveClient: false,
  });
  httpServer.on("request", (req, res) => {
    if (req.url.startsWith("/socket.io")) return; // engine.io answers these
    handle(io, req, res).catch((err) => json(res, 500, { error: String(err) }));
  });

  io.use((socket, next) => {
    const token = socket.handshake.auth && socket.handshake.auth.token;
    const refuse = (reason) => {
      const err = new Error("Unauthorized");
      err.data = { reason };
      next(err);
    };
    if (!token) return refuse("missing_token");
    let claims;
    try {
      claims = jwt.verify(token, SECRET_KEY, { algorithms: ["HS256"], clockTolerance: 15 });
    } catch (err) {
      return refuse(err.name === "TokenExpiredError" ? "expired" : "invalid_token");
    }
    const userId = claims.id || claims.sub;
    if (!userId) return refuse("invalid_token");
    if (!claims.tenantId) return refuse("no_tenant");
    socket.data.userId = String(userId);
    socket.data.tenantId = String(claims.tenantId);
    next();
  });

  const due = new Map();
  const tenantCount = (tenantId) => {
    const room = io.of("/").adapter.rooms.get(`tenant:${tenantId}`);
    return room ? room.size : 0;
  };
  const scheduleCount = (tenantId) => {
    if (due.has(tenantId)) return;
    due.set(
      tenantId,
      setTimeout(() => {
        due.delete(tenantId);
        io.to(`tenant:${tenantId}`).emit("clients-count", { count: tenantCount(tenantId) });
      }, DEBOUNCE_MS),
    );
  };

  io.on("connection", (socket) => {
    const { userId, tenantId } = socket.data;
    socket.join([`tenant:${tenantId}`, `user:${userId}`]);
    connections += 1;
    socket.emit("clients-count", { count: tenantCount(tenantId) });
    scheduleCount(tenantId);
    socket.on("disconnect", () => {
      connections -= 1;
      scheduleCount(tenantId);
    });
  });

  const shutdown = () => {
    io.close();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  if (fdAt >= 0) {
    httpServer.listen({ fd: Number(args[fdAt + 1]) }, () => console.log("ready"));
  } else {
    const port = portAt >= 0 ? Number(args[portAt + 1]) : 8100;
    httpServer.listen(port, "127.0.0.1", () => console.log(`ready on ${port}`));
  }
}

main();
