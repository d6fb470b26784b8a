import FuzzHarnesses

#if FUZZING
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
        Harness.jpeg.warmUp()
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        Harness.jpeg.fuzzOne(data, size)
    }
#endif

Harness.jpeg.main { Harness.jpeg.fuzzOne($0, $1) }
