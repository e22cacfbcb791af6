/** The Maskinporten stand-in's public API; everything else in this folder is internal. */
export { JWT_BEARER_GRANT_TYPE, startMaskinportenStandIn } from "./standin.js";
export { registeredCertificateKid } from "./clients.js";
export type {
  AccessTokenClaims,
  ClientRegistration,
  Counters,
  Fault,
  FaultOptions,
  GrantRecord,
  IssuedTokenRecord,
  MaskinportenStandIn,
  MaskinportenStandInOptions,
  RegisteredKey,
} from "./types.js";
