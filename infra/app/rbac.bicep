// Every role assignment, each at the narrowest scope Azure allows. The broker's identity gets Key
// Vault rights on single objects only: the signing certificate, its key, and each profile's token
// secret. Role assignments on a Key Vault object's scope do not need the object to exist yet, so
// they are in place before the certificate is imported and before the first renewal writes a token.
param identityPrincipalId string
param storageAccountName string
param applicationInsightsName string
param keyVaultName string
@description('Certificates the broker reads (certificates/get) to put x5c in the grant.')
param signingCertificateNames array
@description('Keys the broker signs with (keys/get, keys/sign): each certificate\'s key and any plain key.')
param signingKeyNames array
@description('One token secret per profile; the broker writes them (renewal) and reads them back.')
param tokenSecretNames array
@description('Extra readers of one token secret: { secretName, principalId }.')
param tokenReaders array = []
@description('Who runs azd: may import/renew the signing certificate and read vault metadata. Empty: nobody.')
param deployerPrincipalId string = ''
param deployerPrincipalType string = 'User'

// Built-in role definitions (learn.microsoft.com/azure/role-based-access-control/built-in-roles) and
// which Key Vault role each identity gets on which object: one file, which the sandbox's Key Vault
// stand-in enforces too (sandbox/sandbox.ts).
var rbacRoles = loadJsonContent('../rbac-roles.json')
var roleIds = rbacRoles.roleDefinitionIds
var keyVaultRoles = rbacRoles.keyVault

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Key Vault certificates have no ARM resource type in Bicep's type library (BCP081), but the scope
// .../vaults/<vault>/certificates/<name> is a valid RBAC scope, as the portal and az CLI use it.
#disable-next-line BCP081
resource signingCertificates 'Microsoft.KeyVault/vaults/certificates@2023-07-01' existing = [for name in signingCertificateNames: {
  parent: vault
  name: name
}]

resource signingKeys 'Microsoft.KeyVault/vaults/keys@2023-07-01' existing = [for name in signingKeyNames: {
  parent: vault
  name: name
}]

resource tokenSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for name in tokenSecretNames: {
  parent: vault
  name: name
}]

resource readerSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for reader in tokenReaders: {
  parent: vault
  name: reader.secretName
}]

// Azure forces the account scope here: the Functions host creates its own containers (timer leases,
// host keys), so Storage Blob Data Owner on the account is the documented minimum. The account
// holds nothing but the host's data and the deployment package.
resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, identityPrincipalId, roleIds.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with Entra ID instead of the instrumentation key (local auth is off).
resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// certificates/get: the leaf certificate for x5c and the key id of its version.
resource certificateUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in signingCertificateNames: {
  name: guid(signingCertificates[i].id, identityPrincipalId, roleIds[keyVaultRoles.broker.signingCertificate])
  scope: signingCertificates[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.broker.signingCertificate])
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// keys/get + keys/sign: Key Vault signs the grant digest; the private key never leaves it.
resource cryptoUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in signingKeyNames: {
  name: guid(signingKeys[i].id, identityPrincipalId, roleIds[keyVaultRoles.broker.signingKey])
  scope: signingKeys[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.broker.signingKey])
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// secrets/get + secrets/set (+ list versions): renewal writes each profile's token secret.
resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in tokenSecretNames: {
  name: guid(tokenSecrets[i].id, identityPrincipalId, roleIds[keyVaultRoles.broker.tokenSecret])
  scope: tokenSecrets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.broker.tokenSecret])
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Workloads that read one profile's token straight from Key Vault (profiles.json readerPrincipalIds).
resource tokenSecretReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (reader, i) in tokenReaders: {
  name: guid(readerSecrets[i].id, reader.principalId, roleIds[keyVaultRoles.tokenReader.tokenSecret])
  scope: readerSecrets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.tokenReader.tokenSecret])
    principalId: reader.principalId
  }
}]

// The person or pipeline running azd imports and renews the certificate (scripts/azure/import-certificate.sh).
resource deployerCertificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in signingCertificateNames: if (!empty(deployerPrincipalId)) {
  name: guid(signingCertificates[i].id, deployerPrincipalId, roleIds[keyVaultRoles.deployer.signingCertificate])
  scope: signingCertificates[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.deployer.signingCertificate])
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}]

// Metadata and public keys only (never a secret value): lets the deployer export the public JWK and
// see token secret versions.
resource deployerReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roleIds[keyVaultRoles.deployer.vault])
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[keyVaultRoles.deployer.vault])
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
