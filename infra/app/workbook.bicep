// The operator's workbook (Azure Monitor > Workbooks, or the resource group): token freshness per
// profile, renewals and their failures with Maskinporten's errors and trace ids, callers per
// profile, latency, certificate and key expiry. Metrics come from AppMetrics (the broker's
// OpenTelemetry instruments, README.md "Metrics"), failures and callers from the broker's JSON log
// lines in AppTraces. test/infra/contract.test.ts checks every query against the broker's real
// log lines and metric names.
param workbookName string
param displayName string = 'Maskinporten broker'
param workspaceId string
param location string
param tags object = {}

var tokenFreshnessQuery = '''
AppMetrics
| where Name == "maskinporten_broker.token.remaining_lifetime"
| extend profile = tostring(Properties.profile)
| summarize remainingSeconds = max(Max) by profile, bin(TimeGenerated, 5m)
'''

var renewalsQuery = '''
AppMetrics
| where Name == "maskinporten_broker.renewals"
| extend profile = tostring(Properties.profile), outcome = tostring(Properties.outcome)
| summarize renewals = sum(Sum) by series = strcat(profile, " ", outcome), bin(TimeGenerated, 1h)
'''

var renewalFailuresQuery = '''
AppTraces
| where Message has "renewal" and Message has "failed"
| extend entry = parse_json(extract(@"(\{.*\})", 1, Message))
| where tostring(entry.event) == "renewal" and tostring(entry.outcome) == "failed"
| project TimeGenerated, profile = tostring(entry.profile), stage = tostring(entry.stage), code = tostring(entry.code), maskinportenError = tostring(entry.maskinportenError), traceId = tostring(entry.traceId), errorUri = tostring(entry.errorUri), status = toint(entry.status), message = tostring(entry.message)
| order by TimeGenerated desc
| take 200
'''

var callersQuery = '''
AppTraces
| where Message has "token-request"
| extend entry = parse_json(extract(@"(\{.*\})", 1, Message))
| where tostring(entry.event) == "token-request"
| extend profile = tostring(entry.profile), callerAppId = tostring(entry.callerAppId), outcome = tostring(entry.outcome)
| summarize served = countif(outcome == "served"), refused = countif(outcome == "refused"), lastSeen = max(TimeGenerated) by profile, callerAppId
| order by profile asc, served desc
'''

var latencyQuery = '''
AppMetrics
| where Name in ("maskinporten_broker.http.request.duration", "maskinporten_broker.maskinporten.request.duration", "maskinporten_broker.keyvault.operation.duration", "maskinporten_broker.renewal.duration")
| summarize averageMs = 1000 * sum(Sum) / sum(ItemCount), maxMs = 1000 * max(Max) by Name, bin(TimeGenerated, 15m)
'''

var statusQuery = '''
AppMetrics
| where Name in ("maskinporten_broker.http.requests", "maskinporten_broker.keyvault.operations", "maskinporten_broker.caller_token_cache.lookups")
| extend label = strcat(Name, " ", tostring(Properties.route), tostring(Properties.kind), tostring(Properties.result), " ", tostring(Properties.status_class))
| summarize count = sum(Sum) by label, bin(TimeGenerated, 1h)
'''

var expiryQuery = '''
AppMetrics
| where Name in ("maskinporten_broker.certificate.remaining_days", "maskinporten_broker.key.remaining_days")
| extend profile = tostring(Properties.profile), subject = iff(Name has "certificate", "signing certificate", "registered key")
| summarize arg_max(TimeGenerated, Min) by profile, subject
| project profile, subject, daysLeft = Min, reportedAt = TimeGenerated
| order by daysLeft asc
'''

func queryItem(name string, title string, query string, visualization string, workspaceId string) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.operationalinsights/workspaces'
    crossComponentResources: [
      workspaceId
    ]
    visualization: visualization
  }
}

var workbook = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'intro'
      content: {
        json: '## Maskinporten broker\nToken freshness, renewals, callers, latency and expiry. Metrics: the broker\'s OpenTelemetry instruments (README.md, "Metrics"); failures and callers: its JSON log lines.'
      }
    }
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        parameters: [
          {
            id: 'time-range'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: {
              durationMs: 86400000
            }
            typeSettings: {
              selectableValues: [
                {
                  durationMs: 3600000
                }
                {
                  durationMs: 86400000
                }
                {
                  durationMs: 604800000
                }
                {
                  durationMs: 2592000000
                }
              ]
            }
          }
        ]
      }
    }
    queryItem('token-freshness', 'Token freshness: seconds left on the freshest token per profile', tokenFreshnessQuery, 'timechart', workspaceId)
    queryItem('renewals', 'Renewals by profile and outcome', renewalsQuery, 'barchart', workspaceId)
    queryItem('renewal-failures', 'Renewal failures: stage, Maskinporten error, trace id', renewalFailuresQuery, 'table', workspaceId)
    queryItem('callers', 'Callers per profile (audit lines)', callersQuery, 'table', workspaceId)
    queryItem('latency', 'Latency (ms): HTTP, Maskinporten, Key Vault, renewal', latencyQuery, 'timechart', workspaceId)
    queryItem('status', 'Requests, Key Vault operations and caller-token cache by status', statusQuery, 'barchart', workspaceId)
    queryItem('expiry', 'Days left: signing certificate and registered keys', expiryQuery, 'table', workspaceId)
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource brokerWorkbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: workbookName
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspaceId
    serializedData: string(workbook)
  }
}

output workbookId string = brokerWorkbook.id
