// The function app on the Flex Consumption plan (FC1), its deployment package container, scale
// limits and every app setting. Runtime and scale live in functionAppConfig: Flex rejects the
// FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION / WEBSITE_* settings of the older plans.

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('Resource id of the user-assigned identity (storage, Key Vault references, deployment, Graph).')
param identityId string
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

param chatRequestsQueueName string
param chatRequestsTableName string

param graphTenantId string
@description('Secret mode: the app registration\'s client id. Managed identity mode: the user-assigned identity\'s client id.')
param graphClientId string

@description('Version-less Key Vault secret URIs; empty: the setting is not created.')
param graphClientSecretUri string = ''
param webhookSigningSecretUri string = ''
param callbackSigningSecretUri string = ''

param graphMaxRps string
param newUserGraceMinutes int
param operationDeadlineMinutes int
param pollSchedule string
param callbackAllowedHosts string = ''

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

// One source for the route prefix: the app's own host.json.
var routePrefix = string(loadJsonContent('../../host.json', '$.extensions.http.routePrefix'))

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every app setting of the service. test/unit/infra.test.ts parses this block and compares it with
// SETTING_NAMES in shared/platform/config.ts; secrets appear only as Key Vault references.
var appSettings = union(
  {
    // Identity-based host and trigger storage: shared keys are disabled on the account.
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    // Not a credential: it names the App Insights resource; with local auth disabled, ingestion needs
    // the Entra token the host gets for the identity in APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    GRAPH_TENANT_ID: graphTenantId
    GRAPH_CLIENT_ID: graphClientId
    CHAT_REQUESTS_QUEUE: chatRequestsQueueName
    CHAT_REQUESTS_TABLE: chatRequestsTableName
    GRAPH_MAX_RPS: graphMaxRps
    NEW_USER_GRACE_MINUTES: string(newUserGraceMinutes)
    OPERATION_DEADLINE_MINUTES: string(operationDeadlineMinutes)
    POLL_SCHEDULE: pollSchedule
    CALLBACK_ALLOWED_HOSTS: callbackAllowedHosts
    ALLOW_LOCALHOST_CALLBACKS: 'false'
    // Read by the Functions host: it refuses a larger body (413) before buffering it or running our code.
    // 20 MiB = intake's largest body (a 16 MiB batch) plus headroom, HOST_REQUEST_BODY_LIMIT_BYTES in
    // shared/http/json-body.ts; the host's own default is 100 MB.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '20971520'
  },
  empty(graphClientSecretUri) ? {} : {
    GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${graphClientSecretUri})'
  },
  empty(webhookSigningSecretUri) ? {} : {
    WEBHOOK_SIGNING_SECRET: '@Microsoft.KeyVault(SecretUri=${webhookSigningSecretUri})'
  },
  empty(callbackSigningSecretUri) ? {} : {
    CALLBACK_SIGNING_SECRET: '@Microsoft.KeyVault(SecretUri=${callbackSigningSecretUri})'
  }
)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity (there is no system identity).
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
output apiBaseUrl string = 'https://${site.properties.defaultHostName}/${routePrefix}'
