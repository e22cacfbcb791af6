/**
 * `npm start`: the broker and its three stand-ins, offline, until Ctrl-C.
 */
import { x509DatesProblem } from "./maskinporten/certificates.js";
import { startSandbox } from "./sandbox.js";

// Started with a Node older than the stand-ins need (`node dist/sandbox/main.js` by hand on a
// machine with Node 20): say so and stop, rather than answer every grant with a 500.
const tooOld = x509DatesProblem();
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}

const envFile = ".sandbox/env.json";
const port = process.env.PORT ? Number(process.env.PORT) : 7071;

const sandbox = await startSandbox({ port, envFile });
const { env } = sandbox;
const profile = env.profiles[0]!;

process.stderr.write(`
maskinporten-broker sandbox is running (offline: Key Vault, Maskinporten and Entra ID are local stand-ins)

  broker        ${env.brokerUrl}/api/token/{profile}   profiles: ${env.profiles.map((p) => `${p.name} (role ${p.role})`).join(", ")}
  key vault     ${env.keyVaultUrl}   secrets: ${env.profiles.map((p) => p.secretName).join(", ")}
  maskinporten  ${env.maskinportenIssuer}
  entra id      ${env.entraIssuer}
  details       ${envFile}

Try it (a caller token from the Entra stand-in, then the Maskinporten token from the broker):

  CALLER_TOKEN=$(curl -s ${env.entraTokenUrl} -d grant_type=client_credentials \\
      -d client_id=${env.caller.clientId} -d client_secret=${env.caller.clientSecret} \\
      -d scope=${env.caller.scope} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s -H "Authorization: Bearer $CALLER_TOKEN" ${env.brokerUrl}/api/token/${profile.name}
  curl -s ${env.brokerUrl}/api/health

The renewal timer runs on "${env.settings.RENEW_SCHEDULE}" (UTC). Ctrl-C stops everything.

`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: shutting down\n`);
    void sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
