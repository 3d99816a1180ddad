import Testing
@testable import HTTPServer

@Suite struct SourceAddressKeyTests {
    @Test("An IPv4 address is one source (/32)")
    func ipv4() throws {
        let key = try #require(SourceAddressKey("192.0.2.1"))
        #expect(key == SourceAddressKey("192.0.2.1"))
        #expect(key != SourceAddressKey("192.0.2.2"))
        #expect(key == SourceAddressKey(ipv4: 0xC000_0201))
        #expect(key.description == "192.0.2.1")
    }

    @Test("IPv6 addresses in one /64 are one source; another /64 is another")
    func ipv6Prefix() throws {
        let key = try #require(SourceAddressKey("2001:db8:1:2::1"))
        #expect(key == SourceAddressKey("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(key == SourceAddressKey("2001:0DB8:0001:0002:1234:5678:9abc:def0"))
        #expect(key != SourceAddressKey("2001:db8:1:3::1"))
        #expect(key != SourceAddressKey("2001:db8:0:2::1"))
        #expect(key.description == "2001:db8:1:2::/64")
        #expect(SourceAddressKey("::1")?.description == "::/64")
    }

    @Test("An IPv4-mapped IPv6 address is its IPv4 address, not the ::ffff:0:0/64 prefix")
    func mapped() {
        #expect(SourceAddressKey("::ffff:192.0.2.1") == SourceAddressKey("192.0.2.1"))
        #expect(SourceAddressKey("::ffff:192.0.2.1") != SourceAddressKey("::ffff:192.0.2.2"))
        #expect(SourceAddressKey("::ffff:192.0.2.1")?.description == "192.0.2.1")
    }

    @Test("Anything but an IP literal has no key")
    func invalid() {
        for text in ["", "localhost", "192.0.2.1:80", "[::1]", "fe80::1%eth0", "192.0.2", "2001:db8::/64", "::ffff:1.2.3.4.5"] {
            #expect(SourceAddressKey(text) == nil, "\(text)")
        }
    }
}
