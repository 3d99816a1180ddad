import Foundation
import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresCodingTests {
    static let formats: [PostgresFormat] = [.text, .binary]

    func roundTrip<T: PostgresEncodable & PostgresDecodable>(
        _ value: T, _ pool: PostgresPool, format: PostgresFormat
    ) async throws -> T {
        var query: PostgresQuery = "SELECT \(value) AS v"
        query.resultFormat = format
        let rows = try await pool.query(query)
        return try rows[0].decode("v", as: T.self)
    }

    @Test("Every encodable type survives a round trip in text and binary result formats", arguments: formats)
    func scalarRoundTrips(format: PostgresFormat) async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 2)
            defer { Task { await pool.close() } }
            for value in ["", "plain", "ünïcødé ✓ 日本語 🎉", "it's \"quoted\" \\ back", String(repeating: "x", count: 100_000)] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [0, 1, -1, Int.max, Int.min] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [Int64.max, Int64.min, 42] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [Int32.max, Int32.min, 7] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [Int16.max, Int16.min, -3] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [true, false] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [0.0, -1.5, Double.pi, 1e-300, 1.7976931348623157e308, .infinity, -.infinity] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            #expect(try await roundTrip(Double.nan, pool, format: format).isNaN)
            for value: [UInt8] in [[], [0], [0, 0, 0], [0, 1, 2, 255, 0, 92, 120], Array(0...255)] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            for value in [UUID(), UUID(uuidString: "00000000-0000-0000-0000-000000000000")!] {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
            let arrays: [[String]] = [
                [], ["a"], ["a", "b c", "", "quo\"te", "back\\slash", "comma,x", "NULL", "{braces}", "ünï", " spaced "],
            ]
            for value in arrays {
                #expect(try await roundTrip(value, pool, format: format) == value)
            }
        }
    }

    @Test("Dates round-trip to the microsecond", arguments: formats)
    func dateRoundTrips(format: PostgresFormat) async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            let dates = [
                Date(timeIntervalSince1970: 0),
                Date(timeIntervalSince1970: 1_700_000_000.123456),
                Date(timeIntervalSince1970: -2_000_000_000.5),
                Date(timeIntervalSinceReferenceDate: 0),
                Date(timeIntervalSince1970: 4_102_444_800.000001),
            ]
            for date in dates {
                let decoded = try await roundTrip(date, pool, format: format)
                #expect(abs(decoded.timeIntervalSince(date)) < 0.000_001, "\(date) came back as \(decoded)")
            }
        }
    }

    @Test("Text and binary decoding of timestamps agree, whatever the session time zone")
    func timestampFormatsAgree() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            let literals = [
                "2024-02-29 23:59:59.999999+00", "1970-01-01 00:00:00+00", "1999-12-31 23:00:00-08",
                "2038-01-19 03:14:08.5+05:30", "1900-06-01 12:00:00+00", "0044-03-15 12:00:00+00 BC",
                "12000-01-01 00:00:00+00", "infinity", "-infinity",
            ]
            for zone in ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"] {
                let pairs = try await pool.transaction { connection in
                    try connection.query("SELECT set_config('TimeZone', \(zone), true)")
                    return try literals.map { literal in
                        var text: PostgresQuery = "SELECT \(literal)::timestamptz"
                        text.resultFormat = .text
                        var binary = text
                        binary.resultFormat = .binary
                        return (
                            try connection.query(text)[0].decode(0, as: Date.self),
                            try connection.query(binary)[0].decode(0, as: Date.self))
                    }
                }
                for (index, pair) in pairs.enumerated() {
                    #expect(pair.0 == pair.1, "\(literals[index]) in \(zone)")
                }
                // Naive timestamps are read as UTC.
                let naive = try await pool.query("SELECT '2001-01-01 00:00:00'::timestamp")
                #expect(try naive[0].decode(0, as: Date.self) == Date(timeIntervalSinceReferenceDate: 0))
            }
        }
    }

    @Test("NULL decodes as nil for optionals and fails naming the column otherwise")
    func nullHandling() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            let none: String? = nil
            let noInt: Int? = nil
            let noDate: Date? = nil
            let noBytes: [UInt8]? = nil
            let rows = try await pool.query(
                "SELECT \(none) AS s, \(noInt) AS i, \(noDate) AS d, \(noBytes) AS b, \(Optional("x")) AS present")
            let row = rows[0]
            #expect(row.isNull(0) && row.isNull(1) && row.isNull(2) && row.isNull(3) && !row.isNull(4))
            #expect(try row.decode("s", as: String?.self) == nil)
            #expect(try row.decode("i", as: Int?.self) == nil)
            #expect(try row.decode("d", as: Date?.self) == nil)
            #expect(try row.decode("b", as: [UInt8]?.self) == nil)
            #expect(try row.decode("present", as: String?.self) == "x")
            #expect(rows.columnTypes[1] == .int8)
            let error = try #require(throws: PostgresError.self) { try row.decode("i", as: Int.self) }
            #expect(error.kind == .decoding)
            #expect(error.message.contains("\"i\""))
            let missing = try #require(throws: PostgresError.self) { try row.decode("nope", as: Int.self) }
            #expect(missing.message.contains("nope"))
        }
    }

    @Test("Typed columns of a table round-trip through INSERT and SELECT")
    func tableRoundTrip() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("coding"), size: 1)
            defer { Task { await pool.close() } }
            try await pool.query("""
                CREATE TABLE everything (
                    id uuid PRIMARY KEY, name text NOT NULL, small smallint, medium integer, large bigint,
                    flag boolean, ratio double precision, blob bytea, at timestamptz, tags text[], doc jsonb,
                    label varchar(20)
                )
                """)
            let id = UUID()
            let at = Date(timeIntervalSince1970: 1_234_567_890.25)
            let blob: [UInt8] = [0, 0, 1, 0, 255]
            let inserted = try await pool.query("""
                INSERT INTO everything VALUES (
                    \(id), \("naïve"), \(Int16(-2)), \(Int32(70_000)), \(Int64(1) << 40), \(true), \(0.25),
                    \(blob), \(at), \(["x", "y z"]), \("{\"a\": [1, 2]}"), \("short")
                )
                """)
            #expect(inserted.affectedRows == 1)
            #expect(inserted.commandTag == "INSERT 0 1")
            for format in Self.formats {
                var select: PostgresQuery = "SELECT * FROM everything WHERE id = \(id)"
                select.resultFormat = format
                let rows = try await pool.query(select)
                #expect(rows.count == 1)
                #expect(rows.columns.first == "id")
                let row = rows[0]
                #expect(try row.decode("id", as: UUID.self) == id)
                #expect(try row.decode("id", as: String.self) == id.uuidString.lowercased())
                #expect(try row.decode("name", as: String.self) == "naïve")
                #expect(try row.decode("small", as: Int16.self) == -2)
                #expect(try row.decode("small", as: Int.self) == -2)
                #expect(try row.decode("medium", as: Int32.self) == 70_000)
                #expect(try row.decode("large", as: Int.self) == 1 << 40)
                #expect(try row.decode("flag", as: Bool.self))
                #expect(try row.decode("ratio", as: Double.self) == 0.25)
                #expect(try row.decode("blob", as: [UInt8].self) == blob)
                #expect(try row.decode("at", as: Date.self) == at)
                #expect(try row.decode("tags", as: [String].self) == ["x", "y z"])
                #expect(try row.decode("label", as: String.self) == "short")
                if format == .text {
                    #expect(try row.decode("doc", as: String.self) == "{\"a\": [1, 2]}")
                }
                // An integer too large for the requested type is an error, not a truncation.
                #expect(throws: PostgresError.self) { try row.decode("large", as: Int16.self) }
                #expect(throws: PostgresError.self) { try row.decode("name", as: Int.self) }
            }
        }
    }

    @Test("A text parameter containing a NUL byte is refused before it is sent")
    func nulInText() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query("SELECT \("a\u{0}b")")
            }
            #expect(error?.kind == .protocolViolation)
            #expect(try await pool.query("SELECT 1").count == 1)
        }
    }
}

@Suite struct PostgresTextParsingTests {
    @Test("Array literals with quoting, escapes, NULL and bounds parse")
    func arrayLiterals() {
        #expect(ArrayText.parse("{}")! == [])
        #expect(ArrayText.parse(#"{a,"b c",NULL,"NULL","x\"y","\\"}"#)! == ["a", "b c", nil, "NULL", "x\"y", "\\"])
        #expect(ArrayText.parse("[0:1]={a,b}")! == ["a", "b"])
        #expect(ArrayText.parse("{{a},{b}}") == nil)
        #expect(ArrayText.parse("{a") == nil)
    }

    @Test("bytea text output parses in hex and escape formats")
    func byteaText() {
        #expect(ByteaText.decode(Array(#"\x00ff10"#.utf8)) == [0, 255, 16])
        #expect(ByteaText.decode(Array(#"a\000\\b"#.utf8)) == [97, 0, 92, 98])
        #expect(ByteaText.decode(Array(#"\x0"#.utf8)) == nil)
    }
}
