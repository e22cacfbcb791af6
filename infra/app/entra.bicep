// The broker's Entra ID app registration: callers ask Entra for a token with this app as audience,
// and hold one app role per token profile. Uses the Microsoft Graph Bicep extension (bicepconfig.json),
// so whoever runs azd must be allowed to register applications in the tenant.
extension microsoftGraphV1

@description('Immutable key Graph upserts the application by.')
param uniqueName string
param displayName string
@description('Application ID URI callers may use as resource/scope instead of the app id.')
param identifierUri string
@description('One app role per profile, and one per declared customer of a profile: { value, profile, customer }.')
param appRoles array
@description('Callers to give a role now: { principalId, role }.')
param callerAssignments array = []

// Stable role ids: Entra refuses to drop an enabled role, and callers' assignments point at the id.
var roleIds = toObject(appRoles, role => role.value, role => guid(uniqueName, 'app-role', role.value))

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    identifierUri
  ]
  api: {
    // v2 tokens: aud is the app id, iss is https://login.microsoftonline.com/<tenant>/v2.0.
    requestedAccessTokenVersion: 2
  }
  appRoles: [for role in appRoles: {
    id: roleIds[role.value]
    allowedMemberTypes: [
      'Application'
    ]
    displayName: role.value
    description: empty(role.?customer ?? '') ? 'Fetch the Maskinporten token of profile "${role.profile}" from the broker.' : 'Fetch the Maskinporten token of profile "${role.profile}" for customer ${role.customer} only.'
    value: role.value
    isEnabled: true
  }]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
  // Entra issues tokens for the broker only to callers that hold one of its roles.
  appRoleAssignmentRequired: true
}

resource callerRoles 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for caller in callerAssignments: {
  principalId: caller.principalId
  resourceId: servicePrincipal.id
  appRoleId: roleIds[caller.role]
}]

output appId string = application.appId
output identifierUri string = identifierUri
output servicePrincipalId string = servicePrincipal.id
