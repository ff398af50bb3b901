// A plain socket.io-client driven over stdio: one JSON line out per thing that happens,
// one JSON command in per line. Usage: node client.mjs <url> <json-auth> [<json-options>]
// <json-options>, when given, is merged into io()'s options (e.g. {"extraHeaders": {...}},
// which Node's websocket transport sends with the handshake).
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, authJson, optionsJson] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node client.mjs <url> <json-auth> [<json-options>]\n");
  process.exit(2);
}
const auth = authJson ? JSON.parse(authJson) : {};
const options = optionsJson ? JSON.parse(optionsJson) : {};
const ACK_TIMEOUT_MS = 10_000;

function print(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const socket = io(url, { auth, transports: ["websocket"], reconnection: false, ...options });

socket.on("connect", () => print({ type: "connect" }));
socket.on("connect_error", (err) =>
  print({ type: "connect_error", message: err.message, data: err.data ?? null }),
);
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));
socket.onAny((event, ...args) =>
  print({ type: "event", event, data: args.length > 1 ? args : (args[0] ?? null) }),
);

let closing = false;

function close() {
  if (closing) return;
  closing = true;
  socket.disconnect();
  process.stdout.write("", () => process.exit(0));
}

function handle(command) {
  switch (command.cmd) {
    case "emit":
      if (command.ack) {
        socket.timeout(ACK_TIMEOUT_MS).emit(command.event, command.data, (err, response) => {
          if (err) {
            print({ type: "ack_timeout", id: command.id ?? null, event: command.event });
          } else {
            print({ type: "ack", id: command.id ?? null, event: command.event, data: response });
          }
        });
      } else {
        socket.emit(command.event, command.data);
      }
      break;
    case "close":
      close();
      break;
    default:
      print({ type: "error", message: `unknown command: ${JSON.stringify(command)}` });
  }
}

const commands = createInterface({ input: process.stdin });
commands.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    print({ type: "error", message: `bad command: ${err.message}` });
    return;
  }
  handle(command);
});
commands.on("close", close);
