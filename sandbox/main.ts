/**
 * `npm start`: the broker and its stand-ins (Key Vault, Maskinporten, Entra ID, Altinn exchange), offline, until Ctrl-C.
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
const maskinportenIssuer = checkedIssuer(process.env.SANDBOX_MASKINPORTEN_ISSUER);

// The broker looks for a renewed certificate every minute here (hourly in Azure), so the CSR demo
// shows the switch quickly. SANDBOX_KEY_REGISTRATION=1 adds profile "kid", registered through the
// self-service API stand-in.
const sandbox = await startSandbox({
  port,
  envFile,
  signingKeyRefreshMs: 60_000,
  keyRegistration: process.env.SANDBOX_KEY_REGISTRATION === "1",
  ...(maskinportenIssuer ? { maskinportenIssuer } : {}),
});
const { env } = sandbox;
const profile = env.profiles[0]!;
const altinnProfiles = env.profiles.filter((p) => p.altinnExchange).map((p) => p.name);
const customerProfile = env.profiles.find((p) => p.customers && p.customers.length > 0);
const customer = customerProfile?.customers?.[0];

process.stderr.write(`
maskinporten-broker sandbox is running (offline: Key Vault, Maskinporten, Entra ID and Altinn's token exchange are local stand-ins)

  broker        ${env.brokerUrl}/api/token/{profile}   profiles: ${env.profiles.map((p) => `${p.name} (role ${p.role})`).join(", ")}
  key vault     ${env.keyVaultUrl}   secrets: ${env.profiles.map((p) => p.secretName).join(", ")}
  maskinporten  ${env.maskinportenIssuer}${maskinportenIssuer ? "   (SANDBOX_MASKINPORTEN_ISSUER: register the client ids and signingCertificatePem from env.json there)" : ""}
  entra id      ${env.entraIssuer}
${env.selfServiceUrl ? `  self-service  ${env.selfServiceUrl}   registers profile kid's Key Vault key on its client (GET /api/v1/clients/sandbox-kid-client/jwks);\n                kid's first renewal fails until the new key has propagated (10 s here, up to 2 minutes at Digdir)\n` : ""}  altinn        ${env.altinnExchangeUrl}   serves Altinn 3 tokens to profile${altinnProfiles.length === 1 ? "" : "s"} ${altinnProfiles.join(", ")}; their keys: ${env.altinnJwksUrl}
  metrics       ${env.brokerUrl}/metrics   the broker's OpenTelemetry metrics, Prometheus text (Application Insights gets the same in Azure)
  details       ${envFile}, and .sandbox/ca.pem: the sandbox CA that Key Vault's and Entra's TLS chain to

Try it (a caller token from the Entra stand-in, then the Maskinporten token from the broker):

  CALLER_TOKEN=$(curl -s --cacert .sandbox/ca.pem ${env.entraTokenUrl} -d grant_type=client_credentials \\
      -d client_id=${env.caller.clientId} -d client_secret=${env.caller.clientSecret} \\
      -d scope=${env.caller.scope} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s -H "Authorization: Bearer $CALLER_TOKEN" ${env.brokerUrl}/api/token/${profile.name}
${altinnProfiles.map((name) => `  curl -s -H "Authorization: Bearer $CALLER_TOKEN" ${env.brokerUrl}/api/token/${name}      # an Altinn 3 token\n`).join("")}${
  customerProfile && customer
    ? `  curl -s -H "Authorization: Bearer $CALLER_TOKEN" "${env.brokerUrl}/api/token/${customerProfile.name}?customer=${customer.customer}"   # a customer's token
`
    : ""
}  curl -s ${env.brokerUrl}/api/health

A new certificate by CSR (key made in the Key Vault stand-in, issued by the sandbox CA): README "Enterprise certificate without a key file" (npm run sandbox:certificate).

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

/** SANDBOX_MASKINPORTEN_ISSUER: an issuer URL, https or plain http on loopback only; anything else stops here. */
function checkedIssuer(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const loopback = url !== undefined && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url === undefined || !(url.protocol === "https:" || (url.protocol === "http:" && loopback))) {
    process.stderr.write(
      "SANDBOX_MASKINPORTEN_ISSUER must be the issuer URL of a Maskinporten-compatible server, https or http on 127.0.0.1/localhost " +
        "(e.g. http://127.0.0.1:8080/); its metadata is read from <issuer>.well-known/oauth-authorization-server.\n",
    );
    process.exit(2);
  }
  return value;
}
