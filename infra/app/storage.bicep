// Storage for the Functions host (keys, timer locks), the request queue, its poison queue, the
// request table and its work table, and the Flex deployment package. Reached only with Entra ID:
// shared keys are off.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Queue the intake writes and the worker reads (CHAT_REQUESTS_QUEUE).')
param queueName string

@description('Table holding every request (CHAT_REQUESTS_TABLE).')
param tableName string

@description('Blob container holding the deployment package (functionAppConfig.deployment).')
param deploymentContainerName string

// The Functions host moves a message here after maxDequeueCount failures; the code derives the same name.
var poisonQueueName = '${queueName}-poison'

// In-flight indexes, markers and the shared Graph rate (what the timer reads); the code derives the same name.
var workTableName = '${tableName}Work'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource requestQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: queueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: poisonQueueName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource requestTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: tableName
}

resource workTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: workTableName
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output queueName string = requestQueue.name
output poisonQueueName string = poisonQueue.name
output tableName string = requestTable.name
output workTableName string = workTable.name
output deploymentContainerName string = deploymentContainer.name
