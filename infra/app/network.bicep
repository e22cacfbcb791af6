// The network hardening option (main.bicep vnetEnabled): a virtual network with two subnets, one
// delegated to the Flex Consumption app (VNet integration), one for private endpoints; a NAT
// gateway with one static public IP for the app's outbound calls (Maskinporten, Entra ID): new
// subnets get no default outbound internet access, and the broker's whole job is outbound.
@description('Name of the virtual network.')
param name string
@description('Name prefix of the NAT gateway and its public IP.')
param natGatewayName string
@description('Address space of the virtual network; the two /24 subnets are carved from its first addresses.')
param addressPrefix string = '10.80.0.0/22'
param location string
param tags object = {}

var appSubnetPrefix = cidrSubnet(addressPrefix, 24, 0)
var privateEndpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 1)

resource natPublicIp 'Microsoft.Network/publicIPAddresses@2025-01-01' = {
  name: '${natGatewayName}-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2025-01-01' = {
  name: natGatewayName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natPublicIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // Flex Consumption integrates with a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          natGateway: {
            id: natGateway.id
          }
          defaultOutboundAccess: false
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
          defaultOutboundAccess: false
        }
      }
    ]
  }
}

@description('Subnet the function app integrates with.')
output appSubnetId string = vnet.properties.subnets[0].id
@description('Subnet of the private endpoints.')
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
output id string = vnet.id
@description('The static IP the broker calls Maskinporten from (for allow lists).')
output outboundIp string = natPublicIp.properties.ipAddress
