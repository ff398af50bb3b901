// Many plain socket.io-client sockets in one Node process, with socket.io-client's default
// transports (long-polling first, then the upgrade to WebSocket) unless options say
// otherwise. One JSON line out per thing that happens, tagged with the socket's index `i`.
// Usage: node many.mjs <url> <json-list-of-auth> [<json-options>]
// stdin: "status" prints each socket's state and transport; "close" (or EOF) ends.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, authsJson, optionsJson] = process.argv.slice(2);
if (!url || !authsJson) {
  process.stderr.write("usage: node many.mjs <url> <json-list-of-auth> [<json-options>]\n");
  process.exit(2);
}
const auths = JSON.parse(authsJson);
const options = optionsJson ? JSON.parse(optionsJson) : {};

function print(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const sockets = auths.map((auth, i) => {
  const socket = io(url, { auth, forceNew: true, reconnection: false, ...options });
  socket.on("connect", () =>
    print({ i, type: "connect", transport: socket.io.engine.transport.name }),
  );
  socket.on("connect_error", (err) => print({ i, type: "connect_error", message: err.message }));
  socket.on("disconnect", (reason) => print({ i, type: "disconnect", reason }));
  socket.io.engine.on("upgrade", (transport) => print({ i, type: "upgrade", transport: transport.name }));
  socket.onAny((event, ...args) => print({ i, type: "event", event, data: args[0] ?? null }));
  return socket;
});

let closing = false;
function close() {
  if (closing) return;
  closing = true;
  for (const socket of sockets) socket.disconnect();
  process.stdout.write("", () => process.exit(0));
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    const command = line.trim();
    if (command === "status") {
      sockets.forEach((socket, i) =>
        print({
          i,
          type: "status",
          connected: socket.connected,
          transport: socket.io.engine ? socket.io.engine.transport.name : null,
        }),
      );
    } else if (command === "close") {
      close();
    }
  })
  .on("close", close);
