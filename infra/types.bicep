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

  pid: string?

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

  signing: profileSigning?

  @description('Object ids of service principals / managed identities given this profile\'s app role.')
  callerPrincipalIds: string[]?

  @description('Object ids given Key Vault Secrets User on this profile\'s token secret only.')
  readerPrincipalIds: string[]?
}
