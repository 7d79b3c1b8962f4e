// The console's only way to barge: the AWS API, each request signed with Signature Version 4
// in the browser by the AWS SDK's signer, as the CLI and boto3 sign theirs.  Requests are raw
// fetches rather than the SDK's clients, whose deserializers drop the members AWS does not
// define (barge's own `barge` member of a job or queue).
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

const KEY = "barge.console.credentials";
// A server started with --dev takes any key: these sign the console's requests until someone
// signs in with their own.
const ANONYMOUS = { accessKeyId: "console", secretAccessKey: "console" };

export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export function signIn(c) {
  sessionStorage.setItem(KEY, JSON.stringify(c));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

function region() {
  return sessionStorage.getItem(KEY + ".region") || "us-east-1";
}

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
  // Refusals of the signature itself (not of a permission): signing in again may help.
  get aboutCredentials() {
    return /Signature|UnrecognizedClient|MissingAuthenticationToken|ExpiredToken/.test(this.type);
  }
  toString() {
    return `${this.type}: ${this.message}`;
  }
}

// No answer at all: fetch refused (the server down or restarting, the network gone).
export class Unreachable extends Error {
  toString() {
    return `The server does not answer (${this.message}): it may be restarting.`;
  }
}

async function send(service, path, headers, body, retried) {
  const c = credentials() || ANONYMOUS;
  const url = new URL(path, location.origin);
  const signer = new SignatureV4({
    service,
    region: region(),
    sha256: Sha256,
    credentials: {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken || undefined,
    },
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: {},
    headers: { host: url.host, ...headers },
    body,
  });
  const sent = { ...signed.headers };
  delete sent.host; // the browser sends it, as signed
  let resp;
  try {
    resp = await fetch(url, { method: "POST", headers: sent, body, cache: "no-store" });
  } catch (e) {
    throw new Unreachable(e.message);
  }
  const text = await resp.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text };
  }
  if (resp.ok) return data;
  const type = String(data.__type || resp.headers.get("x-amzn-ErrorType") || `HTTP ${resp.status}`)
    .split("#").pop().split(":")[0];
  const message = data.message || data.Message || resp.statusText;
  // The server names its region when the signature's is another: sign for it and try again.
  // Only from that refusal, and only the sentence's end: other refusals repeat what the request
  // said, which a crafted link chooses.
  const m = type === "InvalidSignatureException"
    ? /This server's region is '([a-z0-9-]+)'\.$/.exec(message) : null;
  if (m && !retried && m[1] !== region()) {
    sessionStorage.setItem(KEY + ".region", m[1]);
    return send(service, path, headers, body, true);
  }
  throw new ApiError(type, message, resp.status);
}

// An AWS Batch operation (REST-JSON: POST /v1/<operation in lower case>).
export function batch(op, input) {
  return send("batch", "/v1/" + op.toLowerCase(), { "content-type": "application/json" },
              JSON.stringify(input || {}));
}

// barge's own operations on its instances (POST /barge/v1/..., signed as AWS Batch's).
export function fleet(op, input) {
  return send("batch", "/barge/v1/" + op.toLowerCase(), { "content-type": "application/json" },
              JSON.stringify(input || {}));
}

// A CloudWatch Logs operation (JSON 1.1: POST / with X-Amz-Target).
export function logs(op, input) {
  return send("logs", "/", {
    "content-type": "application/x-amz-json-1.1",
    "x-amz-target": "Logs_20140328." + op,
  }, JSON.stringify(input || {}));
}

// Every page of a Describe or List call, up to `limit` items.
export async function all(call, op, input, member, limit = 10000) {
  const items = [];
  let token;
  do {
    const out = await call(op, { ...input, ...(token ? { nextToken: token } : {}) });
    items.push(...(out[member] || []));
    token = out.nextToken;
  } while (token && items.length < limit);
  return items;
}
