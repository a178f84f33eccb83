import COpenSSL

/// Bytes from OpenSSL's cryptographically secure random generator.
public enum SecureRandom {
    /// Returns `count` random bytes.
    ///
    /// - Important: traps when the CSPRNG cannot produce bytes; nothing secure can be made without it.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max), "random byte count out of range")
        var buffer = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return buffer }

        let status = buffer.withUnsafeMutableBufferPointer { pointer in
            RAND_bytes(pointer.baseAddress, Int32(count))
        }
        precondition(status == 1, "OpenSSL RAND_bytes failed")
        return buffer
    }
}
