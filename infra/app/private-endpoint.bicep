// One private endpoint for one sub-resource (Key Vault 'vault', storage 'blob', ...) with the private
// DNS zone that makes the resource's usual host name resolve to the endpoint inside the VNet.
@description('Name of the private endpoint.')
param name string
@description('Resource the endpoint connects to.')
param targetResourceId string
@description('Sub-resource (group id): vault, blob, queue, table.')
param groupId string
@description('Private DNS zone for that sub-resource, e.g. privatelink.vaultcore.azure.net.')
param dnsZoneName string
param subnetId string
param vnetId string
param location string
param tags object = {}

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: dnsZoneName
  location: 'global'
  tags: tags
}

resource dnsZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource dnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-01-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: replace(dnsZoneName, '.', '-')
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}
