/// One memory budget shared by jobs that run at once (a run's thumbnails), as pure bookkeeping: the
/// pipeline's async weighted semaphore keeps one and acts on its answers. Each job asks for its estimate
/// in bytes. Jobs are admitted first come, first served: one that does not fit beside the running jobs
/// waits, and the jobs behind it wait too, so a big job is never passed over for ever by small ones. A job
/// larger than the whole budget is never admitted (its caller refuses it without starting it).
public struct MemoryBudget: Sendable, Equatable {
    /// A job's request: who asks, for how many bytes.
    public struct Ticket: Sendable, Hashable {
        /// The caller's name for the job.
        public var id: Int
        /// Its estimate.
        public var bytes: Int

        /// Creates a ticket.
        public init(id: Int, bytes: Int) {
            self.id = id
            self.bytes = max(0, bytes)
        }
    }

    /// The answer to a request.
    public enum Admission: Sendable, Equatable {
        /// It fits: start now (its bytes are counted).
        case now
        /// It waits for running jobs to release; `release` names it when it is admitted.
        case queued
        /// It is larger than the whole budget and would never fit.
        case never
    }

    /// The budget, in bytes.
    public let limit: Int
    /// Bytes of the jobs admitted and not yet released.
    public private(set) var inUse = 0
    /// Jobs waiting, in the order they asked.
    public private(set) var waiting: [Ticket] = []

    /// An empty budget of `limit` bytes.
    public init(limit: Int) { self.limit = max(0, limit) }

    /// Asks to start a job.
    public mutating func request(_ ticket: Ticket) -> Admission {
        guard ticket.bytes <= limit else { return .never }
        guard waiting.isEmpty, inUse + ticket.bytes <= limit else {
            waiting.append(ticket)
            return .queued
        }
        inUse += ticket.bytes
        return .now
    }

    /// Gives back the bytes of a job that ended; returns the waiting jobs admitted now, in order.
    public mutating func release(_ bytes: Int) -> [Ticket] {
        inUse = max(0, inUse - max(0, bytes))
        var admitted: [Ticket] = []
        while let first = waiting.first, inUse + first.bytes <= limit {
            waiting.removeFirst()
            inUse += first.bytes
            admitted.append(first)
        }
        return admitted
    }
}
