/// How long to wait before the next attempt: exponential backoff with jitter, at least what a server's
/// `Retry-After` asks for (capped).
enum RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry). `unit` is a random number in 0..<1;
    /// the wait is between half and all of `base * 2^(retry-1)` (capped at `maxBackoff`), and never shorter
    /// than `retryAfter` cut to `maxRetryAfter`.
    static func delay(
        retry: Int, base: Duration, maxBackoff: Duration, retryAfter: Duration?, maxRetryAfter: Duration,
        unit: Double
    ) -> Duration {
        let doublings = min(max(retry - 1, 0), 30)
        var backoff = base * (1 << doublings)
        if backoff > maxBackoff { backoff = maxBackoff }
        let jittered = backoff / 2 + (backoff / 2) * min(max(unit, 0), 1)
        guard let retryAfter, retryAfter > .zero else { return jittered }
        return max(jittered, min(retryAfter, maxRetryAfter))
    }
}
