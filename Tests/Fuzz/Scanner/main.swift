import FuzzHarnesses

#if FUZZING
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
        Harness.scanner.warmUp()
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        Harness.scanner.fuzzOne(data, size)
    }
#endif

Harness.scanner.main { Harness.scanner.fuzzOne($0, $1) }
