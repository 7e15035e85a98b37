import Foundation

extension UUID {
    /// A random (version 4) UUID from the standard library's system generator (`getrandom` on Linux).
    /// Foundation's `UUID()` opens, reads and closes `/dev/urandom` for every UUID there: three system
    /// calls and a file descriptor on every request, event and order that needs an id.
    package static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // the RFC 9562 variant
        }
        return UUID(uuid: uuid)
    }
}
