// The seed's src/lib/websocket.ts, after moving to Tocsin: the same helper names, now
// publishing over Tocsin's HTTP API (TOCSIN_URL, TOCSIN_API_KEY) instead of a Socket.IO
// server inside the app. Callers keep `import { notifyDossierUpdated } from "@/lib/websocket"`.
export * from "@tocsin/publisher";
