/// An incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Chunk extensions are skipped (bounded); trailer fields are read, checked for framing, and discarded.
struct ChunkedBodyDecoder {
    enum Outcome {
        /// The last chunk and trailer section ended after `consumed` bytes of this input.
        case done(consumed: Int)
        /// All of this input was taken in; more is needed.
        case needMoreData
        case invalid(HTTPParseError)
    }

    private enum Step {
        case size
        case chunkExtension
        case sizeLineFeed
        case data
        case dataCarriageReturn
        case dataLineFeed
        case trailerLineStart
        case trailerLine
        case trailerLineFeed
        case finalLineFeed
    }

    /// Largest decoded body; bounds memory (413).
    let maxBodyBytes: Int
    /// Longest extension text on one chunk line; bounds bytes scanned for nothing (400).
    let maxExtensionBytes: Int
    /// Largest trailer section; bounds bytes scanned for nothing (431).
    let maxTrailerBytes: Int

    private var step = Step.size
    private var size = 0
    private var sizeDigits = 0
    private var extensionBytes = 0
    private var remaining = 0
    private var trailerBytes = 0
    private var decodedBytes = 0

    init(maxBodyBytes: Int, maxExtensionBytes: Int, maxTrailerBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxExtensionBytes = maxExtensionBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    mutating func decode(_ input: UnsafeRawBufferPointer, into body: inout [UInt8]) -> Outcome {
        var index = 0
        let count = input.count
        while index < count {
            let byte = input[index]
            switch step {
            case .size:
                // chunk-size = 1*HEXDIG; a chunk line of anything else is refused.
                if let digit = hexValue(byte) {
                    // 15 hex digits already exceed any sane body; more would overflow Int.
                    guard sizeDigits < 15 else { return .invalid(.invalidChunkSize) }
                    size = size << 4 | digit
                    sizeDigits += 1
                } else if sizeDigits > 0 && byte == UInt8(ascii: ";") {
                    step = .chunkExtension
                } else if sizeDigits > 0 && byte == 0x0D {
                    step = .sizeLineFeed
                } else {
                    return .invalid(.invalidChunkSize)
                }
                index += 1
            case .chunkExtension:
                if byte == 0x0D {
                    step = .sizeLineFeed
                } else if byte == 0x09 || (byte >= 0x20 && byte != 0x7F) {
                    extensionBytes += 1
                    guard extensionBytes <= maxExtensionBytes else { return .invalid(.chunkExtensionTooLong) }
                } else {
                    return .invalid(.invalidChunkFraming)
                }
                index += 1
            case .sizeLineFeed:
                guard byte == 0x0A else { return .invalid(.invalidChunkFraming) }
                index += 1
                if size == 0 {
                    step = .trailerLineStart
                } else {
                    guard size <= maxBodyBytes - decodedBytes else { return .invalid(.bodyTooLarge) }
                    decodedBytes += size
                    remaining = size
                    step = .data
                }
                size = 0
                sizeDigits = 0
                extensionBytes = 0
            case .data:
                let take = min(remaining, count - index)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<(index + take)]))
                index += take
                remaining -= take
                if remaining == 0 { step = .dataCarriageReturn }
            case .dataCarriageReturn:
                guard byte == 0x0D else { return .invalid(.invalidChunkFraming) }
                step = .dataLineFeed
                index += 1
            case .dataLineFeed:
                guard byte == 0x0A else { return .invalid(.invalidChunkFraming) }
                step = .size
                index += 1
            case .trailerLineStart, .trailerLine:
                trailerBytes += 1
                guard trailerBytes <= maxTrailerBytes else { return .invalid(.headerTooLarge) }
                if byte == 0x0D {
                    step = step == .trailerLineStart ? .finalLineFeed : .trailerLineFeed
                } else if step == .trailerLineStart && (byte == 0x20 || byte == 0x09) {
                    return .invalid(.obsoleteLineFolding)
                } else if byte == 0x09 || (byte >= 0x20 && byte != 0x7F) || byte >= 0x80 {
                    step = .trailerLine
                } else {
                    return .invalid(.invalidChunkFraming)
                }
                index += 1
            case .trailerLineFeed:
                guard byte == 0x0A else { return .invalid(.invalidChunkFraming) }
                trailerBytes += 1
                step = .trailerLineStart
                index += 1
            case .finalLineFeed:
                guard byte == 0x0A else { return .invalid(.invalidChunkFraming) }
                return .done(consumed: index + 1)
            }
        }
        return .needMoreData
    }

    @inline(__always)
    private func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }
}
