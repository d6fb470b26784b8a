import Foundation
import ImgArchiveCore
import Testing

@Test func hexIsTwoLowercaseDigitsPerByte() {
    #expect(Hex.lowercase([]) == "")
    #expect(Hex.lowercase([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
    let all = (0...255).map { UInt8($0) }
    #expect(Hex.lowercase(all) == all.map { String(format: "%02x", $0) }.joined())
}
