// The vault holding the signing certificate (imported non-exportable, scripts/azure/) and the
// token secrets. RBAC only (no access policies); soft delete and purge protection cannot be undone.
param name string
@allowed([
  'standard'
  'premium'
])
param sku string = 'standard'
param workspaceId string
@description('Network hardening (main.bicep vnetEnabled): reachable through its private endpoint only; the firewall denies the internet except allowedIpRanges.')
param privateNetworkOnly bool = false
@description('Public IPv4 addresses or CIDR ranges the firewall lets through while privateNetworkOnly, e.g. the deployer importing the certificate. Empty: none, and public network access is off.')
param allowedIpRanges string[] = []
param location string
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: sku
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // With allowed IP ranges the public endpoint stays on, behind a firewall that lets only them through.
    publicNetworkAccess: privateNetworkOnly && empty(allowedIpRanges) ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworkOnly ? 'Deny' : 'Allow'
      bypass: privateNetworkOnly ? 'None' : 'AzureServices'
      ipRules: [for range in (privateNetworkOnly ? allowedIpRanges : []): {
        value: range
      }]
    }
  }
}

// Who signed what and who read which token: Key Vault's audit log goes to the workspace.
resource vaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
