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
@description('Kind of principal principalId is (azd sets AZURE_PRINCIPAL_TYPE; a pipeline is ServicePrincipal).')
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

@description('Pin one version of signingKeyName (32 hex characters). Empty: the latest version.')
param signingKeyVersion string = ''

@description('kid of the key registered on the Maskinporten client. Empty: grants carry the certificate (x5c).')
param signingKid string = ''

@allowed([
  'RS256'
  'RS384'
  'RS512'
])
@description('JWS algorithm of the grant signature.')
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

@description('Key Vault sign limit per 10 s for the signing key: 4000 (RSA-2048 software key, the default) or 250 (RSA-4096 HSM key).')
param keyVaultSignsPer10s string = ''

@description('Share (0 < s <= 1) of that limit one broker instance may spend on per-customer grants; default 0.5.')
param keyVaultSignShare string = ''

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

@description('Network hardening: Key Vault and storage reachable only through private endpoints in a new VNet that the function app integrates with (outbound through a NAT gateway). See README.md "Network hardening".')
param vnetEnabled bool = false

@description('With vnetEnabled: public IPv4 addresses or CIDR ranges (comma-separated) the Key Vault firewall lets through, e.g. yours while you import the certificate. Empty: Key Vault public access off.')
param keyVaultAllowedIpRanges string = ''

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
// Per-customer app roles Token.<profile>.<orgno> (src/http/customer-request.ts), one per declared
// customer role, and the callers given them. Mind Entra's limits (README "Per-customer tokens").
var customerRoles = flatten(map(profileEntries, entry => map(entry.profile.?customerRoles ?? [], customer => {
  value: '${entry.role}.${customer}'
  profile: entry.profile.name
  customer: customer
})))
var customerCallerAssignments = flatten(map(profileEntries, entry => map(entry.profile.?customerCallers ?? [], caller => {
  role: '${entry.role}.${caller.customer}'
  principalId: caller.principalId
})))
// Stored customer tokens (storeCustomerTokens) live in maskinporten-<profile>-<orgno>: the broker
// may write those only for listed customers (with "*", grant Secrets Officer yourself).
var customerSecretNames = flatten(map(filter(profileEntries, entry => entry.profile.?storeCustomerTokens ?? false), entry =>
  map(filter(entry.profile.?customers ?? [], customer => customer != '*'), customer => 'maskinporten-${entry.profile.name}-${customer}')))

var keyVaultAllowedIps = filter(map(split(keyVaultAllowedIpRanges, ','), range => trim(range)), range => !empty(range))

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
var tokenSecretNames = union(map(profileEntries, entry => entry.secretName), customerSecretNames)
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
  KEY_VAULT_SIGNS_PER_10S: keyVaultSignsPer10s
  KEY_VAULT_SIGN_SHARE: keyVaultSignShare
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
  '${entry.prefix}CUSTOMERS': join(entry.profile.?customers ?? [], ',')
  '${entry.prefix}CUSTOMER_CLAIM': entry.profile.?customerClaim ?? ''
  '${entry.prefix}MAX_CUSTOMERS': entry.profile.?maxCustomers ?? ''
  '${entry.prefix}CUSTOMER_REQUESTS_PER_SECOND': entry.profile.?customerRequestsPerSecond ?? ''
  '${entry.prefix}CUSTOMER_DENIED_SECONDS': entry.profile.?customerDeniedSeconds ?? ''
  '${entry.prefix}STORE_CUSTOMER_TOKENS': (entry.profile.?storeCustomerTokens ?? false) ? 'true' : ''
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
    privateNetworkOnly: vnetEnabled
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
    privateNetworkOnly: vnetEnabled
    allowedIpRanges: keyVaultAllowedIps
    location: location
    tags: tags
  }
}

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    natGatewayName: '${abbrs.networkNatGateways}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVaultEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled) {
  name: 'keyvault-endpoint'
  scope: rg
  params: {
    name: '${abbrs.networkPrivateEndpoints}kv-${resourceToken}'
    targetResourceId: keyVault.outputs.id
    groupId: 'vault'
    // privatelink.vaultcore.azure.net in the public cloud, its counterpart elsewhere.
    dnsZoneName: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}'
    subnetId: network.?outputs.privateEndpointSubnetId ?? ''
    vnetId: network.?outputs.id ?? ''
    location: location
    tags: tags
  }
}

// Blob only: the Functions host on Flex Consumption keeps timer leases, host keys and the deployment
// package in blobs; this app uses no queue or table triggers.
module storageBlobEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled) {
  name: 'storage-blob-endpoint'
  scope: rg
  params: {
    name: '${abbrs.networkPrivateEndpoints}blob-${resourceToken}'
    targetResourceId: storage.outputs.id
    groupId: 'blob'
    dnsZoneName: 'privatelink.blob.${environment().suffixes.storage}'
    subnetId: network.?outputs.privateEndpointSubnetId ?? ''
    vnetId: network.?outputs.id ?? ''
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
    appRoles: concat(map(profileEntries, entry => {
      value: entry.role
      profile: entry.profile.name
      customer: ''
    }), customerRoles)
    callerAssignments: concat(callerAssignments, customerCallerAssignments)
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
    virtualNetworkSubnetId: network.?outputs.appSubnetId ?? ''
  }
  // The host needs its storage and Key Vault rights, and with vnetEnabled the private endpoints,
  // from the first start.
  dependsOn: [
    rbac
    keyVaultEndpoint
    storageBlobEndpoint
  ]
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    rulePrefix: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    workspaceId: monitoring.outputs.workspaceId
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmail: alertEmail
    location: location
    tags: tags
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    workbookName: guid(subscription().id, environmentName, 'maskinporten-broker-workbook')
    displayName: 'Maskinporten broker (${environmentName})'
    workspaceId: monitoring.outputs.workspaceId
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
@description('With vnetEnabled: the static public IP the broker calls Maskinporten and Entra ID from. Empty otherwise.')
output BROKER_OUTBOUND_IP string = network.?outputs.outboundIp ?? ''
