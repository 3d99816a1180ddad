/// Header fields as ordered (name, value) pairs with case-insensitive name lookup.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    private var pairs: [(name: String, value: String)]

    public init() {
        pairs = []
    }

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value for `name`, if any.
    public subscript(name: String) -> String? {
        for pair in pairs where Self.namesMatch(pair.name, name) {
            return pair.value
        }
        return nil
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        pairs.compactMap { Self.namesMatch($0.name, name) ? $0.value : nil }
    }

    public mutating func add(name: String, value: String) {
        pairs.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field carrying `value`, keeping the first one's position.
    public mutating func replaceOrAdd(name: String, value: String) {
        if let index = pairs.firstIndex(where: { Self.namesMatch($0.name, name) }) {
            pairs[index] = (name: name, value: value)
            var next = index + 1
            while next < pairs.count {
                if Self.namesMatch(pairs[next].name, name) {
                    pairs.remove(at: next)
                } else {
                    next += 1
                }
            }
        } else {
            add(name: name, value: value)
        }
    }

    public mutating func remove(name: String) {
        pairs.removeAll { Self.namesMatch($0.name, name) }
    }

    public func contains(_ name: String) -> Bool {
        pairs.contains { Self.namesMatch($0.name, name) }
    }

    public var count: Int { pairs.count }

    public var isEmpty: Bool { pairs.isEmpty }

    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var iterator = pairs.makeIterator()
        return AnyIterator { iterator.next() }
    }

    public var description: String {
        pairs.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison; header names are ASCII tokens (RFC 9110 §5.1).
    static func namesMatch(_ lhs: String, _ rhs: String) -> Bool {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                asciiCaseInsensitiveEqual(UnsafeRawBufferPointer(left), UnsafeRawBufferPointer(right))
            }
        }
    }
}

/// ASCII case-insensitive byte comparison.
@inline(__always)
func asciiCaseInsensitiveEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where asciiLowercased(lhs[index]) != asciiLowercased(rhs[index]) {
        return false
    }
    return true
}

@inline(__always)
func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}
