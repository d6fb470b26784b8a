import ImgArchiveCore
import Synchronization

/// An async weighted semaphore over one `MemoryBudget`: a task waits in `acquire` until its bytes fit
/// beside those of the running tasks, first come, first served. The run's thumbnails share one, so a big
/// image lowers how many run at once instead of raising the memory used.
final class MemoryGate: Sendable {
    private struct State {
        var budget: MemoryBudget
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(budget: MemoryBudget(limit: limit))) }

    /// Waits until `bytes` fit, and counts them; returns false at once, counting nothing, when they exceed
    /// the whole budget. Call `release(bytes)` after a true answer.
    func acquire(_ bytes: Int) async -> Bool {
        var admission = MemoryBudget.Admission.never
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            admission = state.withLock { s in
                let id = s.nextID
                s.nextID += 1
                let answer = s.budget.request(MemoryBudget.Ticket(id: id, bytes: bytes))
                if answer == .queued { s.waiters[id] = continuation }
                return answer
            }
            if admission != .queued { continuation.resume() }
        }
        return admission != .never
    }

    /// Gives back bytes acquired before, and wakes the tasks that fit now.
    func release(_ bytes: Int) {
        let ready = state.withLock { s in s.budget.release(bytes).compactMap { s.waiters.removeValue(forKey: $0.id) } }
        for continuation in ready { continuation.resume() }
    }
}
