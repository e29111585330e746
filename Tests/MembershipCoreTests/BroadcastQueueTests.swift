import Testing
import MembershipCore
import WRPCommon

@Suite struct BroadcastQueueTests {
    func user(_ key: String, _ bytes: Int, seq: UInt64 = 1) -> Membership.Message {
        .user(.init(originID: "o", originIncarnation: 0, seqNo: seq, key: key, payload: Array(repeating: 1, count: bytes)))
    }

    @Test(arguments: [1, 4, 8])
    func take_transmitLimit_dropsAfterLimitSends(limit: Int) {
        var q = Membership.BroadcastQueue(capacity: 16)
        q.enqueue(user("a", 10), key: "a")
        for i in 0..<limit {
            let n = q.take(budget: 1_000, transmitLimit: limit).count
            #expect(n == 1, "send \(i)")
        }
        #expect(q.isEmpty)
        let after = q.take(budget: 1_000, transmitLimit: limit)
        #expect(after.isEmpty)
    }

    @Test func enqueue_sameKey_newerInvalidatesOlder() {
        var q = Membership.BroadcastQueue(capacity: 16)
        q.enqueue(user("a", 10, seq: 1), key: "a")
        q.enqueue(user("b", 10), key: "b")
        q.enqueue(user("a", 10, seq: 2), key: "a")
        #expect(q.count == 2)
        let out = q.take(budget: 1_000, transmitLimit: 4)
        #expect(out.contains(user("a", 10, seq: 2)) && !out.contains(user("a", 10, seq: 1)))
    }

    @Test func take_fewestTransmitsFirst_thenNewer() {
        var q = Membership.BroadcastQueue(capacity: 16)
        q.enqueue(user("old", 10), key: "old")
        _ = q.take(budget: 1_000, transmitLimit: 4)  // old: 1 transmit
        q.enqueue(user("new", 10), key: "new")
        let one = user("new", 10).estimatedSize
        let picks = (0..<3).map { _ in q.take(budget: one, transmitLimit: 4) }
        #expect(picks == [[user("new", 10)], [user("new", 10)], [user("old", 10)]], "fewest transmits first, ties to the newer")
    }

    @Test(arguments: [200, 500, 1_336])
    func take_budget_packsWithinBytesAndSkipsTooLarge(budget: Int) {
        var q = Membership.BroadcastQueue(capacity: 64)
        for i in 0..<40 { q.enqueue(user("k\(i)", i % 3 == 0 ? 300 : 20), key: "k\(i)") }
        let out = q.take(budget: budget, transmitLimit: 4)
        let used = out.reduce(0) { $0 + $1.estimatedSize }
        #expect(used <= budget && !out.isEmpty, "budget \(budget): used \(used)")
        for item in q.items where item.transmits == 0 {
            #expect(item.size > budget - used, "\(item.key ?? "") (\(item.size) B) would still fit in \(budget - used) B")
        }
    }

    @Test func enqueue_overCapacity_dropsMostSentFirst() {
        var q = Membership.BroadcastQueue(capacity: 2)
        q.enqueue(user("a", 10), key: "a")
        _ = q.take(budget: 1_000, transmitLimit: 4)
        q.enqueue(user("b", 10), key: "b")
        q.enqueue(user("c", 10), key: "c")
        let keys = q.items.map(\.key)
        #expect(q.count == 2 && !keys.contains("a"), "kept \(keys)")
    }
}
