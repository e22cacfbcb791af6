/**
 * `npm start`: the broker and its stand-ins (Key Vault, Maskinporten, Entra ID, Altinn exchange), offline, until Ctrl-C.
 */
import { startSandbox } from "./sandbox.js";

const envFile = ".sandbox/env.json";
const port = process.env.PORT ? Number(process.env.PORT) : 7071;

// SANDBOX_KEY_REGISTRATION=1 adds profile "kid", registered through the self-service API stand-in.
const sandbox = await startSandbox({ port, envFile, keyRegistration: process.env.SANDBOX_KEY_REGISTRATION === "1" });
const { env } = sandbox;
const profile = env.profiles[0]!;
const altinnProfiles = env.profiles.filter((p) => p.altinnExchange).map((p) => p.name);

process.stderr.write(`
maskinporten-broker sandbox is running (offline: Key Vault, Maskinporten, Entra ID and Altinn's token exchange are local stand-ins)

  broker        ${env.brokerUrl}/api/token/{profile}   profiles: ${env.profiles.map((p) => `${p.name} (role ${p.role})`).join(", ")}
  key vault     ${env.keyVaultUrl}   secrets: ${env.profiles.map((p) => p.secretName).join(", ")}
  maskinporten  ${env.maskinportenIssuer}
  entra id      ${env.entraIssuer}
${env.selfServiceUrl ? `  self-service  ${env.selfServiceUrl}   registers profile kid's Key Vault key on its client (GET /api/v1/clients/sandbox-kid-client/jwks);\n                kid's first renewal fails until the new key has propagated (10 s here, up to 2 minutes at Digdir)\n` : ""}  altinn        ${env.altinnExchangeUrl}   serves Altinn 3 tokens to profile${altinnProfiles.length === 1 ? "" : "s"} ${altinnProfiles.join(", ")}; their keys: ${env.altinnJwksUrl}
  details       ${envFile}

Try it (a caller token from the Entra stand-in, then the Maskinporten token from the broker):

  CALLER_TOKEN=$(curl -s ${env.entraTokenUrl} -d grant_type=client_credentials \\
      -d client_id=${env.caller.clientId} -d client_secret=${env.caller.clientSecret} \\
      -d scope=${env.caller.scope} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s -H "Authorization: Bearer $CALLER_TOKEN" ${env.brokerUrl}/api/token/${profile.name}
${altinnProfiles.map((name) => `  curl -s -H "Authorization: Bearer $CALLER_TOKEN" ${env.brokerUrl}/api/token/${name}      # an Altinn 3 token\n`).join("")}  curl -s ${env.brokerUrl}/api/health

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
