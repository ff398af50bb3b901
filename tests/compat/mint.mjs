// Mint a session token with the real NextAuth v4 or Auth.js (@auth/core) `encode`.
// Usage: node mint.mjs '<json>' where <json> is
//   {"lib": "next-auth" | "authjs", "secret": string | [string, ...], "salt"?: string,
//    "token": {claims}, "maxAge"?: seconds}
// Prints the token (a compact JWE) and a newline on stdout; exits 2 on a bad request.
// - next-auth: `next-auth/jwt` encode, dir + A256GCM, key HKDF(secret, salt ?? "").
//   `secret` must be one string (v4 has no rotation).
// - authjs: `@auth/core/jwt` encode, dir + A256CBC-HS512 with a `kid`, key HKDF(secret, salt).
//   `salt` is required: it is the session cookie's name. With an array of secrets, the
//   first one encrypts (as Auth.js does).
import { encode as encodeAuthjs } from "@auth/core/jwt";
import { encode as encodeNextAuth } from "next-auth/jwt";

function fail(message) {
  process.stderr.write(`mint.mjs: ${message}\n`);
  process.exit(2);
}

const [requestJson] = process.argv.slice(2);
if (!requestJson) fail("usage: node mint.mjs '<json request>'");

let request;
try {
  request = JSON.parse(requestJson);
} catch (err) {
  fail(`bad JSON: ${err.message}`);
}
const { lib, secret, salt, token = {}, maxAge } = request;

const isSecret = (value) => typeof value === "string" && value.length > 0;
if (!(isSecret(secret) || (Array.isArray(secret) && secret.length > 0 && secret.every(isSecret)))) {
  fail("`secret` must be a non-empty string or a non-empty array of them");
}
if (maxAge !== undefined && typeof maxAge !== "number") fail("`maxAge` must be a number");
if (salt !== undefined && typeof salt !== "string") fail("`salt` must be a string");

let minted;
switch (lib) {
  case "next-auth":
    if (Array.isArray(secret)) fail("next-auth v4 takes one secret, not an array");
    minted = await encodeNextAuth({ token, secret, salt, maxAge });
    break;
  case "authjs":
    if (!salt) fail("authjs needs `salt`: the session cookie's name");
    minted = await encodeAuthjs({ token, secret, salt, maxAge });
    break;
  default:
    fail(`unknown lib ${JSON.stringify(lib)}: expected "next-auth" or "authjs"`);
}
process.stdout.write(minted + "\n");
