export { authorize, type Caller } from "./caller.js";
export { CallerAuthError, isCallerAuthError, type AuthFailureReason } from "./auth-error.js";
export { parseBearerToken, DEFAULT_MAX_AUTHORIZATION_LENGTH } from "./bearer.js";
export { APP_SERVICE_PRINCIPAL_HEADER } from "./app-service-principal.js";
export { createCallerVerifier, type CallerVerifier, type CallerVerifierOptions, type HeaderSource } from "./verifier.js";
export type { VerifiedTokenCacheStats } from "./verified-token-cache.js";
export { entraJwksUri, entraV1Issuer, entraV2Issuer, PUBLIC_CLOUD_AUTHORITY_HOST } from "./entra-issuers.js";
