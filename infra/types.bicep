// Shapes of infra/profiles.json. Bicep checks the file against these types when it compiles, so a
// typo in a profile fails `azd provision` instead of starting a broker that refuses its config.

@export()
@description('Signing source for one profile; leave out to use the app-wide SIGNING_* parameters.')
type profileSigning = {
  @description('Key Vault certificate (virksomhetssertifikat) this profile signs with.')
  certificateName: string?

  @description('Pin one certificate version (32 hex characters).')
  certificateVersion: string?

  @description('Plain Key Vault key instead of a certificate; needs kid.')
  keyName: string?

  @description('Pin one key version (32 hex characters).')
  keyVersion: string?

  @description('kid registered on the Maskinporten client; unset with a certificate means x5c.')
  kid: string?

  @description('JWS algorithm of this profile\'s grants; default: the signingAlgorithm parameter.')
  algorithm: ('RS256' | 'RS384' | 'RS512')?

  @description('Intermediate CA certificates (standard base64 DER, comma-separated) appended to x5c.')
  chain: string?
}

@export()
@description('One Maskinporten token profile: what the broker asks for, where it stores the token, who may fetch it.')
type tokenProfile = {
  @description('1-32 lower-case letters, digits and inner hyphens. Becomes the PROFILE_<NAME>_* app settings.')
  @minLength(1)
  @maxLength(32)
  name: string

  @description('Maskinporten client id (integration id) of this profile.')
  clientId: string

  @description('Scopes to request, e.g. ["skatteetaten:testnorge"].')
  scopes: string[]

  @description('"test", "prod" or an issuer URL; default: the maskinportenEnvironment parameter.')
  environment: string?

  @description('Audience-restricted token: the API identifiers the token is meant for.')
  resource: string[]?

  @description('9-digit organisation number when a supplier acts for a consumer.')
  consumerOrg: string?

  @description('Norwegian national identity number of the end user the token is for (rarely per profile).')
  pid: string?

  @description('iss_onbehalfof claim: the client the token is used on behalf of.')
  issOnBehalfOf: string?

  @description('authorization_details objects, e.g. an Altinn system user.')
  authorizationDetails: object[]?

  @description('9-digit organisation number of the system user owner (adds urn:altinn:systemuser).')
  systemUserOrg: string?

  @description('Serve an Altinn 3 token instead: "tt02" (with Maskinporten test), "prod" (with prod) or an Altinn platform base URL.')
  altinnExchange: string?

  @description('With altinnExchange: ask Altinn for the TTD test organisation (?test=true).')
  altinnTestOrg: bool?

  @description('"self-service": keep the kid key registered on the client through Digdir\'s self-service API (needs selfServiceClientId and a kid).')
  keyRegistration: ('self-service' | 'none')?
  @description('externalRef of that system user, when it was created with one (Digdir: must then be sent).')
  systemUserExternalRef: string?

  @description('Key Vault secret holding the token; default maskinporten-<name>.')
  secretName: string?

  @description('Entra app role a caller needs; default Token.<name>.')
  role: string?

  @description('Signing source for this profile; default: the app-wide signing parameters.')
  signing: profileSigning?

  @description('Object ids of service principals / managed identities given this profile\'s app role.')
  callerPrincipalIds: string[]?

  @description('Object ids given Key Vault Secrets User on this profile\'s token secret only.')
  readerPrincipalIds: string[]?

  @description('Per-customer tokens: 9-digit org numbers this profile serves, or ["*"] for any customer Maskinporten accepts.')
  customers: string[]?

  @description('How the customer goes into the grant: consumer_org (default) or systemuser (Altinn system user).')
  customerClaim: ('consumer_org' | 'systemuser')?

  @description('Most customer tokens held per instance (LRU beyond); default 1000.')
  maxCustomers: string?

  @description('New customer tokens asked of Maskinporten per second; default 10.')
  customerRequestsPerSecond: string?

  @description('Seconds a customer Maskinporten refused is answered from memory; default 60.')
  customerDeniedSeconds: string?

  @description('Also write each customer token to secret maskinporten-<name>-<orgno> (one Key Vault version per renewal).')
  storeCustomerTokens: bool?

  @description('Org numbers that get an app role Token.<name>.<orgno> (a caller holding only that role gets only that customer).')
  customerRoles: string[]?

  @description('Callers given one customer\'s role: { principalId, customer }. The customer must be in customerRoles.')
  customerCallers: customerCaller[]?
}

@export()
@description('A caller allowed the token of one customer of a profile.')
type customerCaller = {
  @description('Object id of the service principal / managed identity.')
  principalId: string

  @description('9-digit org number; the caller gets app role Token.<profile>.<orgno>.')
  @minLength(9)
  @maxLength(9)
  customer: string
}
