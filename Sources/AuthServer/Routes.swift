import HTTPServer

/// The route table: one adapter per endpoint.
struct Routes: Sendable {
    let health: HealthEndpoints

    func router() -> Router {
        var router = Router()
        router.add(.GET, "/healthz") { request in health.liveness(request) }
        router.add(.GET, "/readyz") { request in await health.readiness(request) }
        return router
    }
}
