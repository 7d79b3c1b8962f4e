// One AWS Batch call made with the AWS SDK for JavaScript v3, which signs it its own way.
// usage: node batch_call.mjs OPERATION 'JSON INPUT'
// Reads BARGE_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION;
// prints {"ok": OUTPUT} or {"error": NAME, "message": MESSAGE, "status": HTTP STATUS}.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.BARGE_JS_DIR, "package.json"));
const batch = require("@aws-sdk/client-batch");

const [op, input] = process.argv.slice(2);
const client = new batch.BatchClient({
  endpoint: process.env.BARGE_URL,
  region: process.env.AWS_REGION,
  maxAttempts: 1,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    sessionToken: process.env.AWS_SESSION_TOKEN || undefined,
  },
});
try {
  const out = await client.send(new batch[op + "Command"](JSON.parse(input || "{}")));
  delete out.$metadata;
  console.log(JSON.stringify({ ok: out }));
} catch (e) {
  console.log(JSON.stringify({ error: e.name, message: e.message,
                               status: e.$metadata && e.$metadata.httpStatusCode }));
}
