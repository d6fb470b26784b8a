import FuzzHarnesses

#if FUZZING
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
        Harness.responseChecks.warmUp()
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        Harness.responseChecks.fuzzOne(data, size)
    }
#endif

Harness.responseChecks.main { Harness.responseChecks.fuzzOne($0, $1) }
