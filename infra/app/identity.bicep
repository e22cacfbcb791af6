// The broker's user-assigned managed identity: the function app runs as it (AZURE_CLIENT_ID) and
// every role assignment in rbac.bicep names it, so rights survive a re-created function app.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
