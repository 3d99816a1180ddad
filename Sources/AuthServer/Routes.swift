import HTTPServer

/// The route table: one adapter per endpoint.
struct Routes: Sendable {
    let health: HealthEndpoints
    let wellKnown: WellKnownEndpoints
    let token: TokenEndpoint
    let authorization: AuthorizationEndpoint
    let login: LoginEndpoint
    let userInfo: UserInfoEndpoint
    let logout: LogoutEndpoint
    let revocation: RevocationEndpoint
    let introspection: IntrospectionEndpoint
    let metrics: Metrics

    /// The admin listener's routes: metrics and health only.
    func adminRouter() -> Router {
        var router = Router()
        addHealth(&router)
        router.add(.GET, Metrics.path) { request in metrics.response(request) }
        return router
    }

    /// Routes added with `addImmediate` need no I/O and are answered on the event-loop thread that read
    /// the request (see `HTTPResponder`).
    private func addHealth(_ router: inout Router) {
        router.addImmediate(.GET, "/healthz") { request in health.liveness(request) }
        router.add(.GET, "/readyz") { request in await health.readiness(request) }
    }

    /// The public listener's routes (metrics are served only by ``adminRouter()``).
    func router() -> Router {
        var router = Router()
        addHealth(&router)
        router.addImmediate(.GET, WellKnownEndpoints.jwksPath) { request in wellKnown.jwks(request) }
        router.addImmediate(.GET, "/.well-known/openid-configuration") { request in wellKnown.discovery(request) }
        router.addImmediate(.GET, "/.well-known/oauth-authorization-server") { request in wellKnown.discovery(request) }
        // The token, revocation and introspection endpoints accept POST; any other method reaches
        // the endpoint, which answers invalid_request (RFC 6749 §3.2) rather than a bare 405.
        router.add(.POST, TokenEndpoint.path, immediate: { request in token.tokenImmediately(request) },
                   otherwise: { request in await token.token(request) })
        router.addOtherMethods(TokenEndpoint.path) { request in await token.token(request) }
        router.add(.GET, AuthorizationEndpoint.path) { request in await authorization.authorize(request) }
        router.add(.POST, AuthorizationEndpoint.path) { request in await authorization.authorize(request) }
        router.add(.POST, LoginEndpoint.loginPath) { request in await login.submitLogin(request) }
        router.add(.GET, LoginEndpoint.consentPath) { request in await login.showConsent(request) }
        router.add(.POST, LoginEndpoint.consentPath) { request in await login.submitConsent(request) }
        router.add(.GET, UserInfoEndpoint.path) { request in await userInfo.userinfo(request) }
        router.add(.POST, UserInfoEndpoint.path) { request in await userInfo.userinfo(request) }
        router.add(.GET, LogoutEndpoint.path) { request in await logout.logout(request) }
        router.add(.POST, LogoutEndpoint.path) { request in await logout.logout(request) }
        router.add(.POST, RevocationEndpoint.path) { request in await revocation.revoke(request) }
        router.addOtherMethods(RevocationEndpoint.path) { request in await revocation.revoke(request) }
        router.add(.POST, IntrospectionEndpoint.path, immediate: { request in introspection.introspectImmediately(request) },
                   otherwise: { request in await introspection.introspect(request) })
        router.addOtherMethods(IntrospectionEndpoint.path) { request in await introspection.introspect(request) }
        router.add(.GET, Pages.stylesheetPath) { request in Pages.stylesheet(request) }
        return router
    }
}
