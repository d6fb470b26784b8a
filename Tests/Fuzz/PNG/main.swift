import FuzzHarnesses

#if FUZZING
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
        Harness.png.warmUp()
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        Harness.png.fuzzOne(data, size)
    }
#endif

Harness.png.main { Harness.png.fuzzOne($0, $1) }
