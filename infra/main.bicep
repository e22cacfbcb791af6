// maskinporten-broker on Azure: what `azd up` provisions.
// Layout and naming follow Microsoft's azd Functions templates (functions-quickstart-typescript-azd):
// subscription scope, one resource group per azd environment, a resource token, app/*.bicep modules.
targetScope = 'subscription'

import { tokenProfile } from 'types.bicep'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: names the resource group and seeds the resource token.')
param environmentName string

@minLength(1)
@description('Region for every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of whoever runs azd: may import and renew the signing certificate. Empty: nobody.')
param principalId string = deployer().objectId

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Give principalId Key Vault Certificates Officer on the signing certificates and Key Vault Reader on the vault.')
param grantDeployerAccess bool = true

@allowed([
  'test'
  'prod'
])
@description('Maskinporten environment for profiles that do not name their own.')
param maskinportenEnvironment string = 'test'

@description('Key Vault certificate holding the enterprise certificate (virksomhetssertifikat); its key has the same name.')
param signingCertificateName string = 'maskinporten-signing'

@description('Pin one certificate version (needed with signingKid, see README.md "Operate"). Empty: the latest version.')
param signingCertificateVersion string = ''

@description('A plain Key Vault key instead of a certificate (needs signingKid). Empty: sign with signingCertificateName.')
param signingKeyName string = ''

param signingKeyVersion string = ''

@description('kid of the key registered on the Maskinporten client. Empty: grants carry the certificate (x5c).')
param signingKid string = ''

@allowed([
  'RS256'
  'RS384'
  'RS512'
])
param signingAlgorithm string = 'RS256'

@description('Intermediate CA certificates (standard base64 DER, comma-separated) appended to x5c after the leaf.')
param signingChain string = ''

@description('Digdir self-service admin client (kid key registration, README "Key registration"). Empty: off.')
param selfServiceClientId string = ''

@description('Scopes of the admin client. Empty: idporten:dcr.read idporten:dcr.modify.')
param selfServiceScopes string = ''

@description('test or prod: the admin client\'s Maskinporten environment and API host. Empty: maskinportenEnvironment.')
param selfServiceEnvironment string = ''

@description('Override of the self-service API base URL. Empty: api.test.samarbeid.digdir.no / api.samarbeid.digdir.no.')
param selfServiceApiUrl string = ''

@description('Certificate (virksomhetssertifikat) the admin client signs with. Empty: signingCertificateName.')
param selfServiceSigningCertificateName string = ''

@description('Re-post a registered key this many days before its one-year expiry. Empty: 30.')
param keyRegistrationRenewDays string = ''

@description('Minutes a newly registered key waits before it signs (Digdir: 0-2 minutes to propagate). Empty: 5.')
param keyRegistrationPropagationMinutes string = ''

@description('true: the broker may drop keys it did not add when it needs room (5-key cap). Empty: false.')
param keyRegistrationReplaceForeign string = ''

@description('Profile served by GET /api/token. Empty: the first profile.')
param defaultProfile string = ''

@description('NCRONTAB (6 fields, UTC) of the renewal timer.')
param renewSchedule string = '0 * * * * *'

@description('Renew when less than this share of the token lifetime is left (0 < r < 1).')
param renewBeforeExpiryRatio string = '0.5'

@allowed([
  'standard'
  'premium'
])
@description('premium lets the certificate key live in an HSM (import with --hsm).')
param keyVaultSku string = 'standard'

@description('Application ID URI of the broker API. Empty: api://<tenant id>/maskinporten-broker-<resource token>.')
param brokerApiIdentifierUri string = ''

@description('E-mail for alerts. Empty: alerts fire in Azure Monitor without notifying anyone.')
param alertEmail string = ''

@description('Token profiles (edit infra/profiles.json).')
param profiles tokenProfile[] = loadJsonContent('profiles.json', '$.profiles')

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var entraAppUniqueName = 'maskinporten-broker-${resourceToken}'
var identifierUri = empty(brokerApiIdentifierUri) ? 'api://${tenant().tenantId}/${entraAppUniqueName}' : brokerApiIdentifierUri

// Defaults below mirror src/config/settings.ts: profileSettingPrefix, defaultSecretName, defaultRole.
var profileEntries = map(profiles, profile => {
  profile: profile
  prefix: 'PROFILE_${toUpper(replace(profile.name, '-', '_'))}_'
  secretName: profile.?secretName ?? 'maskinporten-${profile.name}'
  role: profile.?role ?? 'Token.${profile.name}'
})

var useSigningKey = !empty(signingKeyName)
var signingCertificateNames = union(
  useSigningKey ? [] : [signingCertificateName],
  // The self-service admin client signs its grants with the virksomhetssertifikat (x5c).
  empty(selfServiceClientId) ? [] : [empty(selfServiceSigningCertificateName) ? signingCertificateName : selfServiceSigningCertificateName],
  filter(map(profiles, profile => profile.?signing.?certificateName ?? ''), name => !empty(name))
)
// A Key Vault certificate's key has the certificate's name: signing with a certificate needs its key.
var signingKeyNames = union(
  signingCertificateNames,
  useSigningKey ? [signingKeyName] : [],
  filter(map(profiles, profile => profile.?signing.?keyName ?? ''), name => !empty(name))
)
var tokenSecretNames = map(profileEntries, entry => entry.secretName)
var tokenReaders = flatten(map(profileEntries, entry => map(entry.profile.?readerPrincipalIds ?? [], principalId => {
  secretName: entry.secretName
  principalId: principalId
})))
var callerAssignments = flatten(map(profileEntries, entry => map(entry.profile.?callerPrincipalIds ?? [], principalId => {
  role: entry.role
  principalId: principalId
})))

// Every app setting src/config/settings.ts reads, by the same name (test/infra/contract.test.ts
// checks this). Empty values mean "not set" to the broker.
var brokerSettings = {
  KEY_VAULT_URL: keyVault.outputs.vaultUri
  MASKINPORTEN_ENVIRONMENT: maskinportenEnvironment
  TOKEN_PROFILES: join(map(profiles, profile => profile.name), ',')
  DEFAULT_PROFILE: defaultProfile
  RENEW_SCHEDULE: renewSchedule
  RENEW_BEFORE_EXPIRY_RATIO: renewBeforeExpiryRatio
  SIGNING_CERTIFICATE_NAME: useSigningKey ? '' : signingCertificateName
  SIGNING_CERTIFICATE_VERSION: useSigningKey ? '' : signingCertificateVersion
  SIGNING_KEY_NAME: signingKeyName
  SIGNING_KEY_VERSION: signingKeyVersion
  SIGNING_KID: signingKid
  SIGNING_ALGORITHM: signingAlgorithm
  SIGNING_CHAIN: signingChain
  CALLER_TENANT_ID: tenant().tenantId
  CALLER_AUDIENCES: '${entra.outputs.appId} ${entra.outputs.identifierUri}'
  CALLER_AUTHORITY_HOST: environment().authentication.loginEndpoint
  // The broker verifies bearer tokens itself; App Service Authentication is not configured.
  CALLER_TRUST_APP_SERVICE_PRINCIPAL: 'false'
  // Key registration through Digdir's self-service API (src/keys/settings.ts); off while SELF_SERVICE_CLIENT_ID is empty.
  SELF_SERVICE_CLIENT_ID: selfServiceClientId
  SELF_SERVICE_SCOPES: selfServiceScopes
  SELF_SERVICE_ENVIRONMENT: selfServiceEnvironment
  SELF_SERVICE_API_URL: selfServiceApiUrl
  SELF_SERVICE_SIGNING_CERTIFICATE_NAME: selfServiceSigningCertificateName
  SELF_SERVICE_SIGNING_CERTIFICATE_VERSION: ''
  SELF_SERVICE_SIGNING_CHAIN: ''
  KEY_REGISTRATION_RENEW_DAYS: keyRegistrationRenewDays
  KEY_REGISTRATION_PROPAGATION_MINUTES: keyRegistrationPropagationMinutes
  KEY_REGISTRATION_REPLACE_FOREIGN: keyRegistrationReplaceForeign
}

// PROFILE_<NAME>_* for every profile in infra/profiles.json.
var profileSettings = reduce(profileEntries, {}, (settings, entry) => union(settings, {
  '${entry.prefix}CLIENT_ID': entry.profile.clientId
  '${entry.prefix}SCOPES': join(entry.profile.scopes, ' ')
  '${entry.prefix}ENVIRONMENT': entry.profile.?environment ?? ''
  '${entry.prefix}RESOURCE': join(entry.profile.?resource ?? [], ',')
  '${entry.prefix}CONSUMER_ORG': entry.profile.?consumerOrg ?? ''
  '${entry.prefix}PID': entry.profile.?pid ?? ''
  '${entry.prefix}ISS_ONBEHALFOF': entry.profile.?issOnBehalfOf ?? ''
  '${entry.prefix}AUTHORIZATION_DETAILS': empty(entry.profile.?authorizationDetails ?? []) ? '' : string(entry.profile.?authorizationDetails ?? [])
  '${entry.prefix}SYSTEMUSER_ORG': entry.profile.?systemUserOrg ?? ''
  '${entry.prefix}ALTINN_EXCHANGE': entry.profile.?altinnExchange ?? ''
  '${entry.prefix}ALTINN_TEST_ORG': (entry.profile.?altinnTestOrg ?? false) ? 'true' : ''
  '${entry.prefix}SYSTEMUSER_EXTERNAL_REF': entry.profile.?systemUserExternalRef ?? ''
  '${entry.prefix}KEY_REGISTRATION': entry.profile.?keyRegistration ?? ''
  '${entry.prefix}SECRET_NAME': entry.secretName
  '${entry.prefix}ROLE': entry.role
  '${entry.prefix}SIGNING_CERTIFICATE_NAME': entry.profile.?signing.?certificateName ?? ''
  '${entry.prefix}SIGNING_CERTIFICATE_VERSION': entry.profile.?signing.?certificateVersion ?? ''
  '${entry.prefix}SIGNING_KEY_NAME': entry.profile.?signing.?keyName ?? ''
  '${entry.prefix}SIGNING_KEY_VERSION': entry.profile.?signing.?keyVersion ?? ''
  '${entry.prefix}SIGNING_KID': entry.profile.?signing.?kid ?? ''
  '${entry.prefix}SIGNING_ALGORITHM': entry.profile.?signing.?algorithm ?? ''
  '${entry.prefix}SIGNING_CHAIN': entry.profile.?signing.?chain ?? ''
}))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    deploymentContainerName: deploymentStorageContainerName
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    sku: keyVaultSku
    workspaceId: monitoring.outputs.workspaceId
    location: location
    tags: tags
  }
}

module entra 'app/entra.bicep' = {
  name: 'entra'
  scope: rg
  params: {
    uniqueName: entraAppUniqueName
    displayName: 'Maskinporten broker (${environmentName})'
    identifierUri: identifierUri
    appRoles: map(profileEntries, entry => {
      value: entry.role
      profile: entry.profile.name
    })
    callerAssignments: callerAssignments
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    signingCertificateNames: signingCertificateNames
    signingKeyNames: signingKeyNames
    tokenSecretNames: tokenSecretNames
    tokenReaders: tokenReaders
    deployerPrincipalId: grantDeployerAccess ? principalId : ''
    deployerPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    brokerSettings: union(brokerSettings, profileSettings)
  }
  // The host needs its storage and Key Vault rights from the first start.
  dependsOn: [
    rbac
  ]
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    rulePrefix: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    workspaceId: monitoring.outputs.workspaceId
    alertEmail: alertEmail
    location: location
    tags: tags
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output BROKER_URL string = 'https://${api.outputs.defaultHostName}/api'
output BROKER_APP_ID string = entra.outputs.appId
output BROKER_API_IDENTIFIER_URI string = entra.outputs.identifierUri
output BROKER_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.vaultUri
output SIGNING_CERTIFICATE_NAME string = signingCertificateName
