import Testing
import MembershipCore
import WRPCommon

@Suite struct SuspicionTests {
    // memberlist's formula at n = 100 on LAN: min 8 s, max 48 s, k = 2.
    @Test(arguments: [
        (0, UInt64(48_000)), (1, 22_762), (2, 8_000), (3, 8_000),
    ])
    func timeout_confirmations_shrinksLogarithmicallyToMin(confirmations: Int, expectedMs: UInt64) {
        let t = Membership.Suspicion.timeout(confirmations: confirmations, expected: 2, min: .seconds(8), max: .seconds(48))
        #expect(t == .ms(expectedMs), "c=\(confirmations): \(t / 1_000_000) ms")
    }

    @Test func timeout_noExpectedConfirmations_isMin() {
        #expect(Membership.Suspicion.timeout(confirmations: 0, expected: 0, min: .seconds(4), max: .seconds(24)) == .seconds(4))
    }

    @Test func confirm_accuserRepeatAndBeyondK_rejected() {
        var s = Membership.Suspicion(accuser: "a", expected: 2, min: .seconds(8), max: .seconds(48), start: .zero)
        #expect(s.deadline == Instant.zero + .seconds(48))
        let results = ["a", "b", "b"].map { s.confirm(from: $0) }
        #expect(results == [false, true, false], "the accuser and repeats are not confirmations")
        #expect(s.deadline == Instant.zero + .ms(22_762))
        let more = ["c", "d"].map { s.confirm(from: $0) }
        #expect(more == [true, false], "no more than k")
        #expect(s.deadline == Instant.zero + .seconds(8))
        #expect(s.confirmations == 2)
    }

    @Test(arguments: [
        (3, UInt64(4_000), UInt64(24_000), 0),
        (10, 4_000, 24_000, 2),
        (32, 6_020, 36_120, 2),
        (100, 8_000, 48_000, 2),
        (1_000, 12_000, 72_000, 2),
    ])
    func suspicionBounds_lanByClusterSize_matchMemberlist(n: Int, minMs: UInt64, maxMs: UInt64, k: Int) {
        let b = Membership.Settings.lan.suspicionBounds(nodes: n)
        #expect(b.min == .ms(minMs) && b.max == .ms(maxMs), "n=\(n): \(b.min / 1_000_000)…\(b.max / 1_000_000) ms")
        #expect(Membership.Settings.lan.expectedConfirmations(nodes: n) == k)
    }

    @Test(arguments: [(1, 4), (3, 4), (9, 4), (10, 8), (100, 12), (1_000, 16), (10_000, 20)])
    func retransmitLimit_lanByClusterSize_isMultTimesCeilLog10(n: Int, limit: Int) {
        #expect(Membership.Settings.lan.retransmitLimit(nodes: n) == limit)
    }

    @Test(arguments: [(10, UInt64(30)), (32, 30), (33, 60), (100, 90), (1_000, 180), (10_000, 300)])
    func pushPullInterval_lanByClusterSize_scalesAbove32(n: Int, seconds: UInt64) {
        #expect(Membership.Settings.lan.scaledPushPullInterval(nodes: n) == .seconds(seconds))
    }
}

@Suite struct AwarenessTests {
    @Test(arguments: [
        ([1], 1), ([1, 1, 1], 3), ([5, 5], 7), ([3, -1], 2), ([-1], 0), ([2, -5], 0), ([100], 7),
    ])
    func apply_deltas_saturateBetweenZeroAndMaxMinusOne(deltas: [Int], score: Int) {
        var a = Membership.Awareness(max: 8)
        for d in deltas { a.apply(d) }
        #expect(a.score == score, "deltas \(deltas)")
        #expect(a.scale(.seconds(1)) == .seconds(UInt64(score + 1)))
    }
}
