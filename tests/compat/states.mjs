// Several named plain socket.io-client sockets ("tab1", "tab2", "other"…) in one Node
// process, so that every line they print is stamped by the same clock: a test can tell
// how long after tab1's acknowledgement tab2 heard of the change.
// Usage: node states.mjs <url> <json-object-of-name-to-auth>
// Out: one JSON line per thing that happens, {t, socket, type, ...}, where `t` is the time
// in milliseconds since the epoch (fractional) when this process saw it.
// In: one JSON command per line:
//   {"cmd": "emit", "socket": name, "event": e, "data": d, "id": n}  (always with an ack:
//    prints {type: "sent"} then {type: "ack", data} or {type: "ack_timeout"})
//   {"cmd": "close"}  (or EOF): disconnect every socket and exit.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, authsJson] = process.argv.slice(2);
if (!url || !authsJson) {
  process.stderr.write("usage: node states.mjs <url> <json-object-of-name-to-auth>\n");
  process.exit(2);
}
const auths = JSON.parse(authsJson);
const ACK_TIMEOUT_MS = 10_000;

function now() {
  return performance.timeOrigin + performance.now();
}

function print(message) {
  process.stdout.write(JSON.stringify({ t: now(), ...message }) + "\n");
}

const sockets = new Map(
  Object.entries(auths).map(([name, auth]) => {
    const socket = io(url, { auth, forceNew: true, transports: ["websocket"], reconnection: false });
    socket.on("connect", () => print({ socket: name, type: "connect" }));
    socket.on("connect_error", (err) =>
      print({ socket: name, type: "connect_error", message: err.message, data: err.data ?? null }),
    );
    socket.on("disconnect", (reason) => print({ socket: name, type: "disconnect", reason }));
    socket.onAny((event, ...args) =>
      print({ socket: name, type: "event", event, data: args[0] ?? null }),
    );
    return [name, socket];
  }),
);

function emit({ socket: name, event, data, id = null }) {
  const socket = sockets.get(name);
  if (!socket) {
    print({ socket: name ?? null, type: "error", message: `no socket named ${JSON.stringify(name)}` });
    return;
  }
  print({ socket: name, type: "sent", id, event });
  socket.timeout(ACK_TIMEOUT_MS).emit(event, data, (err, response) => {
    if (err) print({ socket: name, type: "ack_timeout", id, event });
    else print({ socket: name, type: "ack", id, event, data: response });
  });
}

let closing = false;
function close() {
  if (closing) return;
  closing = true;
  for (const socket of sockets.values()) socket.disconnect();
  process.stdout.write("", () => process.exit(0));
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (!line.trim()) return;
    let command;
    try {
      command = JSON.parse(line);
    } catch (err) {
      print({ type: "error", message: `bad command: ${err.message}` });
      return;
    }
    if (command.cmd === "emit") emit(command);
    else if (command.cmd === "close") close();
    else print({ type: "error", message: `unknown command: ${JSON.stringify(command)}` });
  })
  .on("close", close);
