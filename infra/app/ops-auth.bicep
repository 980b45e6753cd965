// App Service authentication ("Easy Auth", authsettingsV2) in front of the ops page: a person signs in
// with Microsoft Entra ID before /api/ui loads. Every route a machine calls is excluded, so callers with a
// function key (and the anonymous health and OpenAPI routes) work exactly as without it. The page itself
// still needs a function key for the data it reads (docs/deploy.md, "The ops page").
//
// Sign-in uses the app registration `clientId` with the OpenID Connect implicit flow (ID tokens): no
// client secret to store or rotate. No token store: the page never calls another API with the user's token.

param siteName string
param clientId string
param tenantId string
// host.json's extensions.http.routePrefix: the excluded paths are the function routes under it.
param routePrefix string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

var prefix = empty(routePrefix) ? '' : '/${routePrefix}'

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      // Exact paths, or a prefix ending in /*. Everything not listed (the page: /api/ui, /api/ui/*) needs a sign-in.
      excludedPaths: [
        '${prefix}/requests'
        '${prefix}/requests/*'
        '${prefix}/ops/summary'
        '${prefix}/health'
        '${prefix}/openapi.json'
        '/admin/*'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            clientId
            'api://${clientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
  }
}
