// Two log search alerts on the broker's structured log lines (one JSON object per line, src/logging.ts,
// which the Functions host writes to Application Insights as traces, i.e. AppTraces in the workspace):
//   renewal failed: {"event":"renewal","outcome":"failed","profile":...}  one alert per profile
//   certificate expiring: {"event":"certificate-expiry","certificate":...,"daysLeft":n}, n <= 30
//   registered key expiring: {"level":"warn"|"error","event":"key-registration-expiry","clientId":...,"kid":...,"daysLeft":n}
//     (warn from 30 days, error from 7: src/keys/key-registration.ts), one alert per client and kid
param actionGroupName string
param rulePrefix string
param workspaceId string
@description('E-mail notified by both alerts. Empty: alerts show in Azure Monitor only.')
param alertEmail string = ''
param location string
param tags object = {}

// The JSON object is taken from the message even if the host prefixes it.
var renewalFailedQuery = '''
AppTraces
| where Message has "renewal" and Message has "failed"
| extend entry = parse_json(extract(@"(\{.*\})", 1, Message))
| where tostring(entry.event) == "renewal" and tostring(entry.outcome) == "failed"
| project TimeGenerated, profile = tostring(entry.profile), stage = tostring(entry.stage), code = tostring(entry.code), traceId = tostring(entry.traceId)
'''

var certificateExpiryQuery = '''
AppTraces
| where Message has "certificate-expiry"
| extend entry = parse_json(extract(@"(\{.*\})", 1, Message))
| where tostring(entry.event) == "certificate-expiry"
| project TimeGenerated, certificate = tostring(entry.certificate), daysLeft = toint(entry.daysLeft)
'''

var keyRegistrationExpiryQuery = '''
AppTraces
| where Message has "key-registration-expiry"
| extend entry = parse_json(extract(@"(\{.*\})", 1, Message))
| where tostring(entry.event) == "key-registration-expiry"
| project TimeGenerated, level = tostring(entry.level), clientId = tostring(entry.clientId), kid = tostring(entry.kid), role = tostring(entry.role), daysLeft = toint(entry.daysLeft)
'''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'mp-broker'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource renewalFailed 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: '${rulePrefix}-renewal-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Maskinporten broker: token renewal failed'
    description: 'A profile could not renew its Maskinporten token. The log line names the stage (issue or store-write), the error code and Maskinporten\'s trace id. The broker keeps serving the previous token until it expires.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: renewalFailedQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          // One alert per profile.
          dimensions: [
            {
              name: 'profile'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}

// The broker logs certificate-expiry at most once a day per certificate, so the window is a day and
// notifications are muted for a day: one reminder per day until the certificate is renewed.
resource certificateExpiring 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: '${rulePrefix}-certificate-expiring'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Maskinporten broker: signing certificate expires within 30 days'
    description: 'Import the renewed virksomhetssertifikat under the same certificate name (scripts/azure/import-certificate.sh); the broker switches to it within an hour.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: certificateExpiryQuery
          timeAggregation: 'Minimum'
          metricMeasureColumn: 'daysLeft'
          operator: 'LessThanOrEqual'
          threshold: 30
          dimensions: [
            {
              name: 'certificate'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    muteActionsDuration: 'P1D'
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}

// Key registration logs key-registration-expiry once per daily sync per registered key while it
// cannot re-post (Digdir down, cap reached, admin client refused): a warning from 30 days left, an
// error from 7. Both rules look a day back, mute for a day, and split by client and kid.
var keyExpiryRules = [
  {
    suffix: 'key-registration-expiring'
    displayName: 'Maskinporten broker: a registered key expires within 30 days'
    severity: 2
    threshold: 30
  }
  {
    suffix: 'key-registration-expiring-soon'
    displayName: 'Maskinporten broker: a registered key expires within 7 days'
    severity: 1
    threshold: 7
  }
]

resource keyRegistrationExpiring 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = [for rule in keyExpiryRules: {
  name: '${rulePrefix}-${rule.suffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: 'Registrations on Digdir live one year from posting. The broker re-posts 30 days before (KEY_REGISTRATION_RENEW_DAYS); this fires when it could not. The key-registration-failed log lines carry Digdir\'s error; `maskinporten-token keys sync` does the same job by hand.'
    severity: rule.severity
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: keyRegistrationExpiryQuery
          timeAggregation: 'Minimum'
          metricMeasureColumn: 'daysLeft'
          operator: 'LessThanOrEqual'
          threshold: rule.threshold
          dimensions: [
            {
              name: 'clientId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'kid'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    muteActionsDuration: 'P1D'
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}]
