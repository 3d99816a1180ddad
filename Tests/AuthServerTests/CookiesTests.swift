import HTTPServer
import Testing
@testable import AuthServer

@Suite struct CookiesTests {
    /// A request carrying `cookieFields` as its Cookie header fields, in order.
    func request(_ cookieFields: [String], fieldName: String = "Cookie") -> HTTPRequest {
        HTTPRequest(method: .GET, target: "/authorize", headers: HTTPHeaders(cookieFields.map { (fieldName, $0) }))
    }

    func value(_ name: String, _ cookieFields: String...) -> String? {
        Cookies.value(name, in: request(cookieFields))
    }

    // MARK: Parsing (RFC 6265 §5.4: cookie-pair *( ";" SP cookie-pair ))

    @Test("The named cookie is found among several, wherever it stands")
    func severalCookies() {
        #expect(value("tessera_session", "a=1; tessera_session=abc; b=2") == "abc")
        #expect(value("tessera_session", "tessera_session=abc; a=1") == "abc")
        #expect(value("tessera_session", "a=1; b=2; tessera_session=abc") == "abc")
        #expect(value("tessera_browser", "tessera_session=s; tessera_browser=b") == "b")
        #expect(value("tessera_session", "a=1; b=2") == nil)
        #expect(value("tessera_session") == nil)
    }

    @Test("Spaces and tabs around pairs are ignored; a pair without = is skipped")
    func whitespace() {
        #expect(value("tessera_session", "a=1;tessera_session=abc") == "abc")
        #expect(value("tessera_session", "a=1;   tessera_session=abc   ;b=2") == "abc")
        #expect(value("tessera_session", "a=1;\ttessera_session=abc\t") == "abc")
        #expect(value("tessera_session", "  tessera_session=abc") == "abc")
        #expect(value("tessera_session", "junk; tessera_session=abc") == "abc")
        #expect(value("tessera_session", "tessera_session; a=1") == nil)
    }

    @Test("A cookie whose name merely ends or begins with the name is not it", arguments: [
        "xtessera_session=evil", "tessera_sessionx=evil", "__Host-tessera_session=evil", "TESSERA_SESSION=evil", "tessera_session2=evil",
    ])
    func similarNames(field: String) {
        #expect(value("tessera_session", field) == nil)
        #expect(value("tessera_session", field + "; tessera_session=good") == "good")
        #expect(value("tessera_session", "tessera_session=good; " + field) == "good")
    }

    @Test("An empty value counts as absent")
    func emptyValue() {
        #expect(value("tessera_session", "tessera_session=") == nil)
        #expect(value("tessera_session", "tessera_session=; a=1") == nil)
        #expect(value("tessera_session", "tessera_session=   ") == nil)
    }

    @Test("The value is everything after the first =, trailing spaces excluded")
    func valueWithEquals() {
        #expect(value("tessera_session", "tessera_session=a=b==") == "a=b==")
        #expect(value("tessera_session", "tessera_session=-_AZaz09") == "-_AZaz09")
    }

    @Test("When a name appears twice the first wins (RFC 6265 §5.4: the more specific cookie comes first)")
    func firstWins() {
        #expect(value("tessera_session", "tessera_session=first; tessera_session=second") == "first")
    }

    @Test("Cookies split over two Cookie header fields are all seen, the earlier field first")
    func twoFields() {
        #expect(value("tessera_session", "a=1", "tessera_session=abc") == "abc")
        #expect(value("tessera_browser", "tessera_browser=b; x=1", "tessera_session=s") == "b")
        #expect(value("tessera_session", "tessera_browser=b; x=1", "tessera_session=s") == "s")
        #expect(value("tessera_session", "tessera_session=one", "tessera_session=two") == "one")
        #expect(Cookies.value("tessera_session", in: request(["tessera_session=abc"], fieldName: "cookie")) == "abc")
    }

    // MARK: Names and attributes

    @Test("On http the names are plain; on https they carry the __Host- prefix (RFC 6265bis §4.1.3.2)")
    func names() {
        #expect(Cookies(isSecure: false).session == "tessera_session")
        #expect(Cookies(isSecure: false).browser == "tessera_browser")
        #expect(Cookies(isSecure: true).session == "__Host-tessera_session")
        #expect(Cookies(isSecure: true).browser == "__Host-tessera_browser")
        #expect(value(Cookies(isSecure: true).session, "__Host-tessera_session=abc; tessera_session=plain") == "abc")
        #expect(value(Cookies(isSecure: true).session, "tessera_session=plain") == nil)
    }

    @Test("On http a cookie is HttpOnly, SameSite=Lax, Path=/, and not Secure")
    func httpAttributes() {
        let cookies = Cookies(isSecure: false)
        #expect(cookies.setCookie(cookies.session, "abc", maxAge: 3_600) == "tessera_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600")
        #expect(cookies.setCookie(cookies.browser, "b", maxAge: nil) == "tessera_browser=b; Path=/; HttpOnly; SameSite=Lax")
        #expect(cookies.clearCookie(cookies.session) == "tessera_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    @Test("On https a __Host- cookie is Secure with Path=/ and no Domain, as the prefix requires (RFC 6265bis §4.1.3.2)")
    func httpsAttributes() {
        let cookies = Cookies(isSecure: true)
        let session = cookies.setCookie(cookies.session, "abc", maxAge: 3_600)
        #expect(session == "__Host-tessera_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure")
        #expect(cookies.setCookie(cookies.browser, "b", maxAge: nil) == "__Host-tessera_browser=b; Path=/; HttpOnly; SameSite=Lax; Secure")
        #expect(cookies.clearCookie(cookies.session) == "__Host-tessera_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
        for cookie in [session, cookies.clearCookie(cookies.browser)] {
            let attributes = cookie.split(separator: ";").dropFirst().map { $0.trimmingPrefix(" ").lowercased() }
            #expect(attributes.contains("secure"))
            #expect(attributes.contains("path=/"))
            #expect(!attributes.contains { $0.hasPrefix("domain") })
        }
    }
}
