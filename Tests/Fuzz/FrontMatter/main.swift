import FuzzHarnesses

#if FUZZING
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
        Harness.frontMatter.warmUp()
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        Harness.frontMatter.fuzzOne(data, size)
    }
#endif

Harness.frontMatter.main { Harness.frontMatter.fuzzOne($0, $1) }
