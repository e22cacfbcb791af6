// Four kinds of alert, each on the broker's output that is most reliable for it:
//   renewal failed: a log search alert on the structured log line (one JSON object per line,
//     src/logging.ts, which the Functions host writes to AppTraces): {"event":"renewal","outcome":
//     "failed","profile":...}, one alert per profile, and the line names stage, code and trace id.
//   token not fresh: a log search alert on the metric maskinporten_broker.token.remaining_lifetime
//     (AppMetrics): per profile, the freshest token any instance holds has less than
//     tokenFreshnessAlertSeconds left. Per profile needs the metric's dimension, which Azure
//     Monitor's metric alerts see only with "custom metrics with dimensions" switched on by hand.
//   certificate expiring: a metric alert on maskinporten_broker.certificate.remaining_days <= 30.
//     The gauge is exported every minute by every instance; the daily certificate-expiry log line
//     it replaces could fall between a day-long window's evaluations.
//   registered key expiring: a log search alert on {"level":"warn"|"error","event":
//     "key-registration-expiry","clientId":...,"kid":...,"daysLeft":n} (warn from 30 days, error
//     from 7: src/keys/key-registration.ts), one alert per client and kid. The line is logged only
//     while the broker cannot re-post, and names why.
// README.md "Metrics" names the instruments; test/infra/contract.test.ts checks these queries
// against the broker's real log lines and metric names.
param actionGroupName string
param rulePrefix string
param workspaceId string
param applicationInsightsId string
@description('Alert when the freshest token of a profile has fewer seconds left than this.')
param tokenFreshnessAlertSeconds int = 30
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

// Maximum over instances: an idle instance's old token must not look like a failing profile.
var tokenFreshnessQuery = '''
AppMetrics
| where Name == "maskinporten_broker.token.remaining_lifetime"
| extend profile = tostring(Properties.profile)
| summarize remainingSeconds = max(Max) by profile, bin(TimeGenerated, 5m)
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

resource tokenNotFresh 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: '${rulePrefix}-token-not-fresh'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Maskinporten broker: no fresh token for a profile'
    description: 'The freshest token any broker instance holds for the profile is about to expire: renewal is failing (see the renewal-failed alert and the workbook\'s failures), or the timer is not running. Callers get 503 once it has expired.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: tokenFreshnessQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'remainingSeconds'
          operator: 'LessThan'
          threshold: tokenFreshnessAlertSeconds
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

// A custom metric (metric namespace azure.applicationinsights): it exists only once the broker has
// sent it, hence skipMetricValidation. Minimum over every series: one certificate per deployment.
resource certificateExpiring 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${rulePrefix}-certificate-expiring'
  location: 'global'
  tags: tags
  properties: {
    description: 'Maskinporten broker: the signing certificate expires within 30 days. Import the renewed virksomhetssertifikat under the same certificate name (scripts/azure/import-certificate.sh); the broker switches to it within an hour.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT6H'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'certificateRemainingDays'
          metricNamespace: 'azure.applicationinsights'
          metricName: 'maskinporten_broker.certificate.remaining_days'
          timeAggregation: 'Minimum'
          operator: 'LessThanOrEqual'
          threshold: 30
          skipMetricValidation: true
        }
      ]
    }
    autoMitigate: true
    actions: empty(alertEmail) ? [] : [
      {
        actionGroupId: actionGroup.id
      }
    ]
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
