#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import COpenSSL

/// Owns an `OSSL_PARAM_BLD` together with everything its entries point to.
///
/// `OSSL_PARAM_BLD_push_*` store the caller's pointers (the parameter name, strings, octets and BIGNUMs) and
/// only copy them in `OSSL_PARAM_BLD_to_param`. Swift's temporary C strings for `String` arguments die when
/// the push call returns, so every name and value is copied into memory this object owns and frees in
/// `deinit`, after the parameters have been built. Used on one thread only; not `Sendable`.
final class ParameterBuilder {
    private let builder: OpaquePointer
    private var allocations: [UnsafeMutableRawPointer] = []
    private var numbers: [OpaquePointer] = []

    init() throws {
        guard let builder = OSSL_PARAM_BLD_new() else { throw OpenSSLError.capture("OSSL_PARAM_BLD_new") }
        self.builder = builder
    }

    deinit {
        OSSL_PARAM_BLD_free(builder)
        for number in numbers { BN_free(number) }
        for allocation in allocations { free(allocation) }
    }

    private func retainedCString(_ string: String) throws -> UnsafeMutablePointer<CChar> {
        guard let copy = strdup(string) else { throw OpenSSLError(operation: "strdup", reason: "out of memory") }
        allocations.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    func pushUTF8(_ name: String, _ value: String) throws {
        let key = try retainedCString(name)
        let text = try retainedCString(value)
        guard OSSL_PARAM_BLD_push_utf8_string(builder, key, text, 0) == 1 else {
            throw OpenSSLError.capture("OSSL_PARAM_BLD_push_utf8_string(\(name))")
        }
    }

    func pushOctets(_ name: String, _ value: [UInt8]) throws {
        let key = try retainedCString(name)
        guard let copy = malloc(max(value.count, 1)) else { throw OpenSSLError(operation: "malloc", reason: "out of memory") }
        allocations.append(copy)
        value.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
        }
        guard OSSL_PARAM_BLD_push_octet_string(builder, key, copy, value.count) == 1 else {
            throw OpenSSLError.capture("OSSL_PARAM_BLD_push_octet_string(\(name))")
        }
    }

    func pushBigNumber(_ name: String, bigEndian value: [UInt8]) throws {
        let key = try retainedCString(name)
        guard value.count <= Int(Int32.max), let number = BN_bin2bn(value, Int32(value.count), nil) else {
            throw OpenSSLError.capture("BN_bin2bn")
        }
        numbers.append(number)
        guard OSSL_PARAM_BLD_push_BN(builder, key, number) == 1 else {
            throw OpenSSLError.capture("OSSL_PARAM_BLD_push_BN(\(name))")
        }
    }

    /// The built `OSSL_PARAM` array; the caller frees it with `OSSL_PARAM_free`.
    func build() throws -> UnsafeMutablePointer<OSSL_PARAM> {
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw OpenSSLError.capture("OSSL_PARAM_BLD_to_param") }
        return params
    }
}
