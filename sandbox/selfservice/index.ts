/** The self-service API stand-in's public API. */
export { REGISTRATION_LIFETIME_MS, startSelfServiceStandIn } from "./standin.js";
export type {
  ExpiredRegistration,
  RegisteredKeyRecord,
  SelfServiceFault,
  SelfServiceRequestRecord,
  SelfServiceStandIn,
  SelfServiceStandInOptions,
} from "./standin.js";
